package integration

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/kmsfs/kmsfs/envelope"
)

// fsckExpect runs fsck (with extra flags) and fails unless it exits code
// and its output contains every want.
func fsckExpect(t *testing.T, v *vol, code int, want []string, extra ...string) string {
	t.Helper()
	out, errOut, got := v.kmsfs(append(append([]string{"fsck"}, extra...), v.cipher)...)
	if got != code {
		t.Fatalf("fsck %v: exit %d, want %d\n%s%s", extra, got, code, out, errOut)
	}
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("fsck %v: output lacks %q:\n%s%s", extra, w, out, errOut)
		}
	}
	return out
}

// TestFsckLostDirIV (issue 12 item 10): a directory whose IV file is lost
// has no decryptable names; fsck exits 6 naming it, --repair moves its
// entries (files, a long name, a subdirectory, a symlink) to lost+found
// and gives it a new IV, the next fsck is clean, and every content is
// still there.
func TestFsckLostDirIV(t *testing.T) {
	if plaintextNames() {
		t.Skip("plaintext names have no IV files")
	}
	v := newVol(t)
	v.mount()
	long := strings.Repeat("L", 200)
	files := map[string][]byte{
		"docs/a.txt":     bytes.Repeat([]byte("a"), 70000),
		"docs/" + long:   []byte("long name"),
		"docs/sub/b.txt": []byte("in a subdirectory"),
		"keep.txt":       []byte("elsewhere"),
	}
	for name, data := range files {
		p := filepath.Join(v.plain, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("a.txt", filepath.Join(v.plain, "docs/link")); err != nil {
		t.Fatal(err)
	}
	docs := v.cipherPath("docs")
	v.umount()
	if err := os.Remove(filepath.Join(docs, "kmsfs.diriv")); err != nil {
		t.Fatal(err)
	}

	fsckExpect(t, v, 6, []string{"docs/: ", "directory IV file missing"})
	fsckExpect(t, v, 0, []string{"docs/: repaired: ", "moved 4 entries to lost+found/docs"}, "--repair")
	fsckExpect(t, v, 0, []string{"0 with problems", "4 entries wait in lost+found"})

	v.mount()
	if ents, err := os.ReadDir(filepath.Join(v.plain, "docs")); err != nil || len(ents) != 0 {
		t.Errorf("docs after the repair: %v, %v; want empty", ents, err)
	}
	if err := os.WriteFile(filepath.Join(v.plain, "docs/new.txt"), []byte("new"), 0o644); err != nil {
		t.Errorf("creating in the repaired directory: %v", err)
	}
	lost := filepath.Join(v.plain, "lost+found/docs")
	ents, err := os.ReadDir(lost)
	if err != nil || len(ents) != 4 {
		t.Fatalf("lost+found/docs: %v, %v", ents, err)
	}
	var got []string
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), "kmsfs-undecryptable") {
			t.Errorf("lost+found entry %q is not listed marked", e.Name())
		}
		p := filepath.Join(lost, e.Name())
		switch {
		case e.Type()&os.ModeSymlink != 0:
			got = append(got, "symlink")
		case e.IsDir():
			b, err := os.ReadFile(filepath.Join(p, "b.txt"))
			if err != nil || !bytes.Equal(b, files["docs/sub/b.txt"]) {
				t.Errorf("subdirectory's b.txt: %q, %v", b, err)
			}
			got = append(got, "dir")
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				t.Errorf("reading %s: %v", e.Name(), err)
			}
			got = append(got, string(b[:min(len(b), 9)]))
		}
	}
	sort.Strings(got)
	if want := []string{"aaaaaaaaa", "dir", "long name", "symlink"}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("lost+found/docs holds %v, want %v", got, want)
	}
	if b, err := os.ReadFile(filepath.Join(v.plain, "keep.txt")); err != nil || string(b) != "elsewhere" {
		t.Errorf("keep.txt: %q, %v", b, err)
	}
}

// TestFsckNameDamage (issue 12 item 10): an undecryptable name, a symlink
// target and an xattr value that fail authentication, a long name without
// its side file and an orphaned side file are each reported; --repair
// cannot rewrite them and deletes nothing, and the other files stay
// readable.
func TestFsckNameDamage(t *testing.T) {
	if plaintextNames() {
		t.Skip("plaintext names, targets and xattrs are not encrypted")
	}
	v := newVol(t)
	v.mount()
	long := strings.Repeat("N", 200)
	for _, name := range []string{"renamed.txt", "xattr.txt", "ok.txt", long} {
		if err := os.WriteFile(filepath.Join(v.plain, name), []byte(name), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Setxattr(filepath.Join(v.plain, "xattr.txt"), "user.note", []byte("value"), 0); err != nil {
		t.Skipf("xattrs not supported here: %v", err)
	}
	if err := os.Symlink("ok.txt", filepath.Join(v.plain, "link")); err != nil {
		t.Fatal(err)
	}
	renamed, xfile, link, longPath := v.cipherPath("renamed.txt"), v.cipherPath("xattr.txt"), v.cipherPath("link"), v.cipherPath(long)
	v.umount()

	// A damaged name: one character of the encoded name changed.
	b := []byte(filepath.Base(renamed))
	b[3] = map[bool]byte{true: 'B', false: 'A'}[b[3] == 'A']
	if err := os.Rename(renamed, filepath.Join(filepath.Dir(renamed), string(b))); err != nil {
		t.Fatal(err)
	}
	// A symlink target replaced by another valid-looking sealed target.
	target, _ := os.Readlink(link)
	os.Remove(link)
	if err := os.Symlink(strings.Repeat("A", len(target)), link); err != nil {
		t.Fatal(err)
	}
	// An xattr value with one bit flipped.
	names := make([]byte, 1024)
	n, _ := syscall.Listxattr(xfile, names)
	for _, x := range strings.Split(string(names[:n]), "\x00") {
		if strings.HasPrefix(x, "user.kmsfs.") {
			val := make([]byte, 1024)
			m, _ := syscall.Getxattr(xfile, x, val)
			val[m-1] ^= 1
			if err := syscall.Setxattr(xfile, x, val[:m], 0); err != nil {
				t.Fatal(err)
			}
		}
	}
	// A long name whose side file moved away: an orphan beside a bare name.
	side := longPath + ".name"
	if err := os.Rename(side, filepath.Join(v.cipher, "kmsfs.long."+strings.Repeat("A", 43)+".name")); err != nil {
		t.Fatal(err)
	}

	want := []string{"kmsfs-undecryptable~" + string(b) + ": ", "does not decrypt",
		"link: symlink target", "xattr.txt: xattr user.note: value", "side file is missing",
		"side file without its entry"}
	fsckExpect(t, v, 6, want)
	fsckExpect(t, v, 6, want, "--repair")
	v.mount()
	if got, err := os.ReadFile(filepath.Join(v.plain, "ok.txt")); err != nil || string(got) != "ok.txt" {
		t.Errorf("ok.txt: %q, %v", got, err)
	}
	if got, err := os.ReadFile(filepath.Join(v.plain, "kmsfs-undecryptable~"+string(b))); err != nil || string(got) != "renamed.txt" {
		t.Errorf("the file with the damaged name: %q, %v", got, err)
	}
}

// TestFsckSlotRepair (issue 12 item 10): the newest header slot of a file
// fails authentication; readers fall back to the older slot silently,
// fsck exits 6 naming the file, --repair rewrites both slots from the good
// one, the next fsck is clean and the contents are intact.
func TestFsckSlotRepair(t *testing.T) {
	v := newVol(t)
	v.mount()
	data := bytes.Repeat([]byte("slot repair "), 20000)
	p := filepath.Join(v.plain, "f.bin")
	if err := os.WriteFile(p, data[:1000], 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(data[1000:]); err != nil {
		t.Fatal(err)
	}
	f.Close()
	backing := v.cipherPath("f.bin")
	v.umount()
	raw, err := os.ReadFile(backing)
	if err != nil {
		t.Fatal(err)
	}
	gen := func(pos int) uint64 {
		off := envelope.PreambleSize + pos*envelope.SlotSize
		return binary.BigEndian.Uint64(raw[off:])
	}
	if gen(0) == 0 || gen(1) == 0 {
		t.Fatalf("the file has one slot in use (generations %d, %d); the test needs two", gen(0), gen(1))
	}
	cur := 0
	if gen(1) > gen(0) {
		cur = 1
	}
	flipByte(t, backing, int64(envelope.PreambleSize+cur*envelope.SlotSize+envelope.SlotSize-3))

	fsckExpect(t, v, 6, []string{"f.bin: ", "newest header slot fails authentication"})
	fsckExpect(t, v, 0, []string{"f.bin: repaired: ", "both header slots rewritten"}, "--repair")
	fsckExpect(t, v, 0, []string{"0 with problems"})
	v.mount()
	if got, err := os.ReadFile(p); err != nil || !bytes.Equal(got, data) {
		t.Errorf("after the repair: %d bytes, %v; want %d", len(got), err, len(data))
	}
	// --repair refuses a mounted tree.
	if out, errOut, code := v.kmsfs("fsck", "--repair", v.cipher); code == 0 || !strings.Contains(errOut, "mounted") {
		t.Errorf("fsck --repair while mounted: exit %d\n%s%s", code, out, errOut)
	}
}

// TestFsckConfigKey (issue 12 item 10): fsck checks the volume's key: a
// disabled key is a problem of kmsfs.conf.
func TestFsckConfigKey(t *testing.T) {
	v := newVol(t)
	fsckExpect(t, v, 0, []string{"0 with problems"})
	v.must("key", "disable", "alias/kmsfs")
	fsckExpect(t, v, 6, []string{"kmsfs.conf: volume key", "Disabled"})
	v.must("key", "enable", "alias/kmsfs")
	fsckExpect(t, v, 0, []string{"0 with problems"})
}
