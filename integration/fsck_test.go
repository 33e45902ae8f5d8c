package integration

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFsckNamesPlaintextPath: fsck reports a damaged file of a volume by
// the path the mount shows, not by its stored (encrypted) cipher path.
func TestFsckNamesPlaintextPath(t *testing.T) {
	v := newVol(t)
	v.mount()
	if err := os.MkdirAll(filepath.Join(v.plain, "dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("fsck plaintext path\n"), 1000)
	for _, name := range []string{"dir/damaged.txt", "dir/fine.txt"} {
		if err := os.WriteFile(filepath.Join(v.plain, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	backing := v.cipherPath("dir/damaged.txt")
	v.umount()
	f, err := os.OpenFile(backing, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte{0xff}, 1000); err != nil { // inside chunk 0
		t.Fatal(err)
	}
	f.Close()
	out, errOut, code := v.kmsfs("fsck", v.cipher)
	if code != 6 {
		t.Fatalf("fsck: exit %d, want 6\n%s%s", code, out, errOut)
	}
	if !strings.Contains(out, "\ndir/damaged.txt: ") && !strings.HasPrefix(out, "dir/damaged.txt: ") {
		t.Errorf("fsck does not name dir/damaged.txt:\n%s", out)
	}
	rel, _ := filepath.Rel(v.cipher, backing)
	if !plaintextNames() && strings.Contains(out, rel) {
		t.Errorf("fsck shows the cipher path %s:\n%s", rel, out)
	}
	if strings.Contains(out, "fine.txt") {
		t.Errorf("fsck lists an intact file:\n%s", out)
	}
}
