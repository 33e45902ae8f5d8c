package integration

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBackupRestore is the README's "Backup and restore" procedure, end to
// end: write a tree through the mount, rotate the key, back up the cipher
// tree with tar and the keyring with `kmsfs keyring export` (also tarred),
// wipe both, restore them in a new place under a new keyring passphrase,
// fsck, mount, and find every file identical.
func TestBackupRestore(t *testing.T) {
	needTool(t, "tar")
	v := newVol(t)
	v.mount()
	want := writeTree(t, v.plain, "before")
	v.must("key", "rotate", "alias/kmsfs")
	for path, sum := range writeTree(t, v.plain, "after") { // headers under version 2
		want[path] = sum
	}
	want["before/medium.bin"] = writeRandomFile(t, filepath.Join(v.plain, "before", "medium.bin"), 70_001) // rewritten
	bundlePass := filepath.Join(v.base, "bundlepass")
	if err := os.WriteFile(bundlePass, []byte("bundle passphrase\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	// Back up. The keyring is exported through the mount's socket.
	if out := v.must("audit", "verify"); !strings.HasPrefix(out, "audit log intact: ") {
		t.Fatalf("audit verify while mounted: %q", out)
	}
	v.must("keyring", "export", "--bundle-passfile", bundlePass, filepath.Join(v.base, "keyring.kmsfskr"))
	v.umount()
	backup := t.TempDir()
	sh(t, v.base, "tar -C cipher -cpf "+backup+"/cipher.tar . && tar -cf "+backup+"/keyring.tar keyring.kmsfskr")

	// Wipe.
	for _, p := range []string{v.cipher, v.keyring, filepath.Join(v.base, "keyring.kmsfskr")} {
		if err := os.RemoveAll(p); err != nil {
			t.Fatal(err)
		}
	}

	// Restore in a new place, under a new keyring passphrase.
	r := restoredVol(t)
	sh(t, r.base, "mkdir cipher && tar -C cipher -xpf "+backup+"/cipher.tar && tar -xf "+backup+"/keyring.tar")
	out := r.must("keyring", "import", "--bundle-passfile", bundlePass, filepath.Join(r.base, "keyring.kmsfskr"))
	if !strings.Contains(out, "keys: 1 added") || !strings.Contains(out, "2 versions added") {
		t.Fatalf("import: %s", out)
	}
	fsckClean(t, r)
	r.mount()
	checkTree(t, r.plain, want)

	// While mounted, a second import goes through the socket and changes nothing,
	// and the restored keyring's own audit log verifies.
	out = r.must("keyring", "import", "--bundle-passfile", bundlePass, filepath.Join(r.base, "keyring.kmsfskr"))
	if !strings.Contains(out, "0 added, 0 merged, 1 unchanged") {
		t.Fatalf("second import while mounted: %s", out)
	}
	r.must("audit", "verify")
}

// restoredVol is an empty place for a restore, with its own passphrase.
func restoredVol(t *testing.T) *vol {
	t.Helper()
	base, err := os.MkdirTemp("", "kmsfs-it-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	r := &vol{t: t, base: base, keyring: filepath.Join(base, "keyring"), cipher: filepath.Join(base, "cipher"),
		plain: filepath.Join(base, "plain"), passfile: filepath.Join(base, "pass"), log: filepath.Join(base, "mount.log")}
	if err := os.WriteFile(r.passfile, []byte("another passphrase\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(r.plain, 0o755); err != nil {
		t.Fatal(err)
	}
	return r
}

// fsckClean runs kmsfs fsck on the restored tree and requires a clean
// report.
func fsckClean(t *testing.T, r *vol) {
	t.Helper()
	out, errOut, code := r.kmsfs("fsck", r.cipher)
	if strings.Contains(out+errOut, "not implemented yet") {
		// TODO(issue 4, fsck): drop this skip once `kmsfs fsck` (cmd/kmsfs/fsck.go) lands.
		t.Log("kmsfs fsck is not implemented yet: skipping the fsck step")
		return
	}
	if code != 0 {
		t.Fatalf("fsck of the restored tree: exit %d\n%s%s", code, out, errOut)
	}
}

// writeTree writes files of awkward sizes (empty, one byte, around chunk
// boundaries, several chunks) under dir/sub and returns their SHA-256 by
// path relative to dir.
func writeTree(t *testing.T, dir, sub string) map[string]string {
	t.Helper()
	sizes := map[string]int64{"empty": 0, "one": 1, "chunk-1": 65535, "chunk": 65536, "chunk+1": 65537,
		"medium.bin": 300_000, "deep/er/file": 4097, "large.bin": 3<<20 + 5}
	sums := make(map[string]string, len(sizes))
	for name, size := range sizes {
		path := filepath.Join(dir, sub, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		sums[filepath.Join(sub, name)] = writeRandomFile(t, path, size)
	}
	return sums
}

// checkTree requires dir to hold exactly the files of want, with the same
// contents.
func checkTree(t *testing.T, dir string, want map[string]string) {
	t.Helper()
	seen := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		sum, ok := want[rel]
		switch {
		case !ok:
			t.Errorf("restored tree has an extra file %s", rel)
		case fileSHA256(t, path) != sum:
			t.Errorf("%s differs after the restore", rel)
		default:
			seen++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen != len(want) {
		t.Fatalf("%d of %d files restored identical", seen, len(want))
	}
}
