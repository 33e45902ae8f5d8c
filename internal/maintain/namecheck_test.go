package maintain_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/kmsfs/kmsfs/internal/maintain"
	"github.com/kmsfs/kmsfs/internal/names"
)

// nameTree is an encrypted-names tree built as the mount builds it.
type nameTree struct {
	t     *testing.T
	dir   string
	codec *names.Codec
}

func newNameTree(t *testing.T) *nameTree {
	t.Helper()
	codec, err := names.NewCodec(bytes.Repeat([]byte{7}, names.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(codec.Close)
	nt := &nameTree{t: t, dir: t.TempDir(), codec: codec}
	nt.writeIV(nt.dir)
	return nt
}

func (nt *nameTree) writeIV(abs string) {
	iv, err := names.NewDirIV()
	if err == nil {
		err = names.WriteDirIV(abs, iv)
	}
	if err != nil {
		nt.t.Fatal(err)
	}
}

// path returns the absolute backing path of the plaintext path plain,
// writing a long name's side file.
func (nt *nameTree) path(plain string) string {
	nt.t.Helper()
	abs := nt.dir
	for _, name := range strings.Split(plain, "/") {
		iv, err := names.ReadDirIV(abs)
		if err != nil {
			nt.t.Fatal(err)
		}
		disk, side, err := nt.codec.EncryptName(iv, name)
		if err != nil {
			nt.t.Fatal(err)
		}
		if side != "" {
			if err := os.WriteFile(filepath.Join(abs, names.LongSideFile(disk)), []byte(side), 0o400); err != nil {
				nt.t.Fatal(err)
			}
		}
		abs = filepath.Join(abs, disk)
	}
	return abs
}

func (nt *nameTree) mkdir(plain string) string {
	p := nt.path(plain)
	if err := os.Mkdir(p, 0o700); err != nil {
		nt.t.Fatal(err)
	}
	nt.writeIV(p)
	return p
}

func (nt *nameTree) file(plain, content string) string {
	p := nt.path(plain)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		nt.t.Fatal(err)
	}
	return p
}

func (nt *nameTree) check() (map[string]error, int64) {
	nt.t.Helper()
	got := map[string]error{}
	_, inLost, err := maintain.CheckNames(context.Background(), nt.dir, nt.codec, func(p maintain.NameProblem) {
		got[p.Rel] = p.Err
	})
	if err != nil {
		nt.t.Fatal(err)
	}
	return got, inLost
}

func (nt *nameTree) rel(abs string) string {
	r, _ := filepath.Rel(nt.dir, abs)
	return filepath.ToSlash(r)
}

// TestCheckNames: a healthy tree has no problems; each kind of damage is
// reported on the right path with the names sentinel that says what.
func TestCheckNames(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(nt *nameTree) (rel string, want error)
	}{
		{"missing IV file", func(nt *nameTree) (string, error) {
			d := nt.mkdir("d")
			nt.file("d/x", "x")
			os.Remove(filepath.Join(d, names.DirIVFile))
			return nt.rel(d), names.ErrNoDirIV
		}},
		{"damaged IV file", func(nt *nameTree) (string, error) {
			d := nt.mkdir("d")
			iv := filepath.Join(d, names.DirIVFile)
			os.Chmod(iv, 0o600)
			os.WriteFile(iv, make([]byte, names.DirIVSize), 0o600)
			return nt.rel(d), names.ErrBadDirIV
		}},
		{"undecryptable name", func(nt *nameTree) (string, error) {
			p := filepath.Join(nt.dir, "planted.txt")
			os.WriteFile(p, nil, 0o600)
			return "planted.txt", names.ErrBadName
		}},
		{"long name without side file", func(nt *nameTree) (string, error) {
			p := nt.file(strings.Repeat("l", 220), "long")
			os.Remove(filepath.Join(filepath.Dir(p), names.LongSideFile(filepath.Base(p))))
			return nt.rel(p), names.ErrBadName
		}},
		{"orphaned side file", func(nt *nameTree) (string, error) {
			p := nt.file(strings.Repeat("o", 220), "long")
			os.Remove(p)
			return nt.rel(p) + names.LongSuffix, maintain.ErrOrphanSide
		}},
		{"symlink target", func(nt *nameTree) (string, error) {
			p := nt.path("link")
			os.Symlink(strings.Repeat("A", 60), p)
			return nt.rel(p), names.ErrUnauthenticated
		}},
		{"xattr name", func(nt *nameTree) (string, error) {
			p := nt.file("x", "")
			if err := unix.Lsetxattr(p, names.XattrPrefix+"notb64~", []byte("v"), 0); err != nil {
				t.Skipf("xattrs: %v", err)
			}
			return nt.rel(p), names.ErrBadName
		}},
		{"xattr value", func(nt *nameTree) (string, error) {
			p := nt.file("x", "")
			id := bytes.Repeat([]byte{1}, 16)
			sealed, _ := nt.codec.SealXattrValue(id, "note", []byte("value"))
			sealed[len(sealed)-1] ^= 1
			disk, _ := nt.codec.EncryptXattrName("note")
			if err := unix.Lsetxattr(p, "user.kmsfs-id", id, 0); err != nil {
				t.Skipf("xattrs: %v", err)
			}
			unix.Lsetxattr(p, disk, sealed, 0)
			return nt.rel(p), names.ErrUnauthenticated
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nt := newNameTree(t)
			nt.mkdir("healthy")
			nt.file("healthy/f", "f")
			target, _ := nt.codec.EncryptTarget("healthy/f")
			os.Symlink(target, nt.path("good-link"))
			if got, _ := nt.check(); len(got) != 0 {
				t.Fatalf("healthy tree: %v", got)
			}
			rel, want := tc.damage(nt)
			got, _ := nt.check()
			if len(got) != 1 || !errors.Is(got[rel], want) {
				t.Errorf("reported %v; want %s: %v", got, rel, want)
			}
		})
	}
}

// TestRepairDirIV: the entries of a directory without IV file (with a
// long name's side file) move to lost+found/<label> under names that do
// not decode, so the mount lists each one marked; nothing is deleted, the directory gets a new IV, and the next check is clean with
// the moved entries counted as waiting in lost+found. A second damaged
// directory with the same label gets its own place.
func TestRepairDirIV(t *testing.T) {
	nt := newNameTree(t)
	d := nt.mkdir("d")
	a := nt.file("d/a", "A")
	long := nt.file("d/"+strings.Repeat("n", 220), "N")
	sub := nt.mkdir("d/sub")
	bFile := nt.file("d/sub/b", "B")
	os.Remove(filepath.Join(d, names.DirIVFile))
	dest, moved, err := maintain.RepairDirIV(nt.dir, nt.rel(d), "d", nt.codec)
	if err != nil || moved != 3 {
		t.Fatalf("RepairDirIV: %d moved, %v", moved, err)
	}
	if want := nt.rel(nt.path(maintain.LostFound + "/d")); dest != want {
		t.Errorf("moved to %s, want lost+found/d (%s)", dest, want)
	}
	destAbs := filepath.Join(nt.dir, dest)
	for _, p := range []string{a + "~", long + "~", long + "~" + names.LongSuffix, sub + "~"} {
		if _, err := os.Lstat(filepath.Join(destAbs, filepath.Base(p))); err != nil {
			t.Errorf("%s not in lost+found: %v", filepath.Base(p), err)
		}
	}
	destIV, err := names.ReadDirIV(destAbs)
	if err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(destAbs)
	for _, e := range ents {
		if names.IsReserved(e.Name()) {
			continue
		}
		if names.IsLong(e.Name()) {
			t.Errorf("%s in lost+found is still a long name", e.Name())
		}
		if _, err := nt.codec.DecryptName(destIV, e.Name()); err == nil {
			t.Errorf("%s in lost+found decodes under its IV; the mount would not list it marked", e.Name())
		}
	}
	if b, err := os.ReadFile(filepath.Join(destAbs, filepath.Base(sub)+"~", filepath.Base(bFile))); err != nil || string(b) != "B" {
		t.Errorf("the subdirectory's file: %q, %v", b, err)
	}
	if _, err := names.ReadDirIV(d); err != nil {
		t.Errorf("no new IV: %v", err)
	}
	got, inLost := nt.check()
	if len(got) != 0 || inLost != 3 {
		t.Errorf("after the repair: %v, %d in lost+found", got, inLost)
	}
	nt.file("d/c", "C")
	os.Remove(filepath.Join(d, names.DirIVFile))
	dest2, _, err := maintain.RepairDirIV(nt.dir, nt.rel(d), "d", nt.codec)
	if err != nil || dest2 == dest {
		t.Errorf("second repair: %s, %v", dest2, err)
	}
	if _, _, err := maintain.RepairDirIV(nt.dir, ".", ".", nt.codec); !errors.Is(err, maintain.ErrRootIV) {
		t.Errorf("root: %v", err)
	}
	if _, _, err := maintain.RepairDirIV(nt.dir, nt.rel(d), "d", nt.codec); err == nil {
		t.Error("repairing a directory whose IV is there succeeded")
	}
}
