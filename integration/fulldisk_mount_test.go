package integration

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestFullDiskUnderMount: the keyring and CIPHERDIR share a small
// filesystem (the default layout on one disk) that a program fills
// through the mount. Writes fail with ENOSPC, a key rotation fails with a
// one-line error, the mount stays up and serves what it holds, and once
// space returns rotation, new files and the keyring's audit log are whole.
func TestFullDiskUnderMount(t *testing.T) {
	base := mountTmpfs(t, "96m")
	logs := t.TempDir()
	v := &vol{t: t, base: base, keyring: filepath.Join(base, "keyring"), cipher: filepath.Join(base, "cipher"),
		plain: filepath.Join(logs, "plain"), passfile: filepath.Join(logs, "pass"), log: filepath.Join(logs, "mount.log")}
	if err := os.WriteFile(v.passfile, []byte("integration passphrase\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(v.plain, 0o755); err != nil {
		t.Fatal(err)
	}
	args := []string{"init"}
	if plaintextNames() {
		args = append(args, "--plaintext-names")
	}
	v.must(append(args, v.cipher)...)
	v.mount()
	if err := os.WriteFile(filepath.Join(v.plain, "kept"), []byte("written before the disk filled"), 0o644); err != nil {
		t.Fatal(err)
	}

	big := filepath.Join(v.plain, "big")
	fillErr := fillThrough(big)
	if !errors.Is(fillErr, syscall.ENOSPC) {
		t.Fatalf("filling the disk through the mount: %v, want ENOSPC", fillErr)
	}
	_, errOut, code := v.kmsfs("key", "rotate", "alias/kmsfs")
	if code == 0 {
		t.Log("rotation succeeded on the full disk (the keyring's reserve sufficed)")
	} else if lines := strings.Count(strings.TrimSpace(errOut), "\n"); lines > 0 || !strings.Contains(errOut, "space") {
		t.Errorf("rotation on a full disk: exit %d, want one line naming the lack of space: %q", code, errOut)
	}
	if b, err := os.ReadFile(filepath.Join(v.plain, "kept")); err != nil || string(b) != "written before the disk filled" {
		t.Fatalf("the mount after the disk filled: %q, %v", b, err)
	}
	if _, err := os.ReadDir(v.plain); err != nil {
		t.Fatalf("listing the mount on a full disk: %v", err)
	}

	if err := os.Remove(big); err != nil {
		t.Fatalf("freeing space through the mount: %v", err)
	}
	v.must("key", "rotate", "alias/kmsfs")
	if err := os.WriteFile(filepath.Join(v.plain, "after"), []byte("space is back"), 0o644); err != nil {
		t.Fatalf("a new file once space returned: %v", err)
	}
	v.umount()
	if out := v.must("audit", "verify"); !strings.Contains(out, "intact") {
		t.Errorf("audit verify after the full disk: %s", out)
	}
	v.must("fsck", v.cipher)
	v.mount()
	if b, err := os.ReadFile(filepath.Join(v.plain, "after")); err != nil || string(b) != "space is back" {
		t.Errorf("after remount: %q, %v", b, err)
	}
}

// fillThrough writes to path until a write fails, and returns that error.
func fillThrough(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	for i := 0; i < 1<<12; i++ {
		if _, err := f.Write(buf); err != nil {
			return err
		}
	}
	return f.Sync()
}
