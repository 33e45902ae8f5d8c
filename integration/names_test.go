package integration

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// nameMarker is in every name, symlink target, xattr name and value that
// TestNamesInCipherDir writes: with encrypted names it must not appear
// anywhere in CIPHERDIR; with plaintext names it must (so the grep works).
const nameMarker = "NAMEMARKER"

// TestNamesInCipherDir writes a tree of known names through the binary's
// mount, greps CIPHERDIR's raw bytes, entry names, symlink targets and
// xattrs, and reads the tree back through a new mount.
func TestNamesInCipherDir(t *testing.T) {
	v := newVol(t)
	v.mount()
	long := nameMarker + "-" + strings.Repeat("long", 50) // a long name (side file)
	files := map[string]string{
		nameMarker + "-dir/" + nameMarker + "-file.txt":          "one",
		nameMarker + "-dir/sub/" + long:                          "two",
		nameMarker + "-dir/ünïcødé " + nameMarker:                "three",
		nameMarker + "-dir/sub/" + nameMarker + "-renamed-later": "four",
	}
	for p, data := range files {
		full := filepath.Join(v.plain, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	dir := filepath.Join(v.plain, nameMarker+"-dir")
	steps := []func() error{
		func() error {
			return os.Rename(filepath.Join(dir, "sub", nameMarker+"-renamed-later"), filepath.Join(dir, nameMarker+"-renamed"))
		},
		func() error { return os.Symlink("sub/"+long, filepath.Join(dir, nameMarker+"-link")) },
		func() error {
			return os.Link(filepath.Join(dir, nameMarker+"-file.txt"), filepath.Join(dir, "sub", nameMarker+"-hard"))
		},
		func() error {
			return unix.Setxattr(filepath.Join(dir, nameMarker+"-file.txt"), "user."+nameMarker, []byte(nameMarker+"-value"), 0)
		},
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	want := listTree(t, v.plain)
	v.umount()

	found := markerPlaces(t, v.cipher)
	if plaintextNames() {
		if len(found) == 0 {
			t.Error("plaintext names: the marker is nowhere in CIPHERDIR, so the grep cannot work")
		}
	} else {
		for _, f := range found {
			t.Errorf("CIPHERDIR leaks a name: %s", f)
		}
	}
	v.mount()
	if got := listTree(t, v.plain); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("tree after remount:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if b, err := os.ReadFile(filepath.Join(dir, nameMarker+"-link")); err != nil || string(b) != "two" {
		t.Errorf("through the symlink: %q, %v", b, err)
	}
	buf := make([]byte, 100)
	if n, err := unix.Getxattr(filepath.Join(dir, "sub", nameMarker+"-hard"), "user."+nameMarker, buf); err != nil || string(buf[:n]) != nameMarker+"-value" {
		t.Errorf("xattr through the hard link: %q, %v", buf[:max(n, 0)], err)
	}
	checkConfigNames(t, v)
}

// listTree returns every path under dir with its kind and, for files and
// symlinks, contents or target.
func listTree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			rel += " -> " + target
		case d.Type().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			rel += " = " + string(b)
		}
		out = append(out, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// markerPlaces lists where nameMarker appears under dir.
func markerPlaces(t *testing.T, dir string) []string {
	t.Helper()
	var found []string
	m := []byte(nameMarker)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.Contains(d.Name(), nameMarker) {
			found = append(found, "name "+p)
		}
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			if strings.Contains(target, nameMarker) {
				found = append(found, "symlink target "+p)
			}
			return nil
		case d.Type().IsRegular():
			if b, err := os.ReadFile(p); err == nil && bytes.Contains(b, m) {
				found = append(found, "contents "+p)
			}
		}
		buf := make([]byte, 64<<10)
		n, err := unix.Llistxattr(p, buf)
		if err != nil {
			return err
		}
		for _, name := range strings.Split(string(buf[:n]), "\x00") {
			if name == "" {
				continue
			}
			if strings.Contains(name, nameMarker) {
				found = append(found, "xattr name "+p)
			}
			val := make([]byte, 64<<10)
			if vn, err := unix.Lgetxattr(p, name, val); err == nil && bytes.Contains(val[:vn], m) {
				found = append(found, "xattr value "+p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// checkConfigNames checks that kmsfs.conf records the run's name mode and
// holds a wrapped name key exactly when names are encrypted.
func checkConfigNames(t *testing.T, v *vol) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(v.cipher, "kmsfs.conf"))
	if err != nil {
		t.Fatal(err)
	}
	var conf struct {
		PlaintextNames bool
		WrappedNameKey *struct{ KeyId, Wrapped string }
	}
	if err := json.Unmarshal(b, &conf); err != nil {
		t.Fatal(err)
	}
	if conf.PlaintextNames != plaintextNames() || (conf.WrappedNameKey != nil) == plaintextNames() {
		t.Errorf("kmsfs.conf: PlaintextNames=%v, name key %v; this run's volumes have plaintext names: %v",
			conf.PlaintextNames, conf.WrappedNameKey != nil, plaintextNames())
	}
	_, err = os.Stat(filepath.Join(v.cipher, "kmsfs.diriv"))
	if plaintextNames() == (err == nil) {
		t.Errorf("root IV file: %v (plaintext names: %v)", err, plaintextNames())
	}
}

// TestConflictCopyThroughMount: a sync tool's conflict copy of an encrypted
// file is listed under a marked name by the binary's mount, readable, and
// removable with rm; the original is untouched.
func TestConflictCopyThroughMount(t *testing.T) {
	if plaintextNames() {
		t.Skip("with plaintext names a conflict copy is an ordinary file")
	}
	v := newVol(t)
	v.mount()
	if err := os.WriteFile(filepath.Join(v.plain, "notes.txt"), []byte("v1"), 0o644); err != nil {
		t.Fatal(err)
	}
	backing := v.cipherPath("notes.txt")
	v.umount()
	conflict := backing + " (conflicted copy 2024-05-01)"
	b, err := os.ReadFile(backing)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(conflict, b, 0o644); err != nil {
		t.Fatal(err)
	}
	v.mount()
	marked := "kmsfs-undecryptable~" + filepath.Base(conflict)
	out := sh(t, v.plain, "ls -1")
	if out != marked+"\nnotes.txt\n" {
		t.Fatalf("ls shows:\n%s", out)
	}
	if got := sh(t, v.plain, "cat '"+marked+"'"); got != "v1" {
		t.Errorf("cat of the conflict copy: %q", got)
	}
	sh(t, v.plain, "rm '"+marked+"'")
	if out := sh(t, v.plain, "ls -1 && cat notes.txt"); out != "notes.txt\nv1" {
		t.Errorf("after rm: %q", out)
	}
	if _, err := os.Stat(conflict); !os.IsNotExist(err) {
		t.Errorf("conflict copy still in CIPHERDIR: %v", err)
	}
}
