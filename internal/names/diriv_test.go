package names_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/kmsfs/kmsfs/internal/names"
)

func TestNewDirIV(t *testing.T) {
	seen := map[[names.DirIVSize]byte]bool{}
	for range 1000 {
		iv, err := names.NewDirIV()
		if err != nil {
			t.Fatal(err)
		}
		if iv == ([names.DirIVSize]byte{}) || seen[iv] {
			t.Fatalf("NewDirIV returned zero or repeated IV %x", iv)
		}
		seen[iv] = true
	}
}

func TestDirIVRoundTrip(t *testing.T) {
	dir := t.TempDir()
	iv := testIV(40)
	if err := names.WriteDirIV(dir, iv); err != nil {
		t.Fatalf("WriteDirIV: %v", err)
	}
	got, err := names.ReadDirIV(dir)
	if err != nil || got != iv {
		t.Fatalf("ReadDirIV = %x, %v; want %x", got, err, iv)
	}
	st, err := os.Lstat(filepath.Join(dir, names.DirIVFile))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode() != 0o400 || st.Size() != names.DirIVSize {
		t.Errorf("IV file mode %v size %d, want -r-------- 16", st.Mode(), st.Size())
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 1 {
		t.Fatalf("directory holds %d entries (%v), want only the IV file", len(entries), err)
	}
}

func TestWriteDirIVRefuses(t *testing.T) {
	dir := t.TempDir()
	if err := names.WriteDirIV(dir, testIV(41)); err != nil {
		t.Fatal(err)
	}
	if err := names.WriteDirIV(dir, testIV(42)); !errors.Is(err, names.ErrDirIVExists) {
		t.Fatalf("second WriteDirIV = %v, want ErrDirIVExists", err)
	}
	if got, _ := names.ReadDirIV(dir); got != testIV(41) {
		t.Fatalf("IV was replaced: %x", got)
	}
	if err := names.WriteDirIV(t.TempDir(), [names.DirIVSize]byte{}); !errors.Is(err, names.ErrBadDirIV) {
		t.Fatalf("WriteDirIV(zero IV) = %v, want ErrBadDirIV", err)
	}
	if err := names.WriteDirIV(filepath.Join(dir, "missing"), testIV(43)); err == nil {
		t.Fatal("WriteDirIV into a missing directory succeeded")
	}
}

func TestReadDirIVMissing(t *testing.T) {
	dir := t.TempDir()
	// A conflict copy must not stand in for the missing original.
	writeFile(t, filepath.Join(dir, "kmsfs (1).diriv"), ivBytes(44))
	if _, err := names.ReadDirIV(dir); !errors.Is(err, names.ErrNoDirIV) {
		t.Fatalf("ReadDirIV = %v, want ErrNoDirIV", err)
	}
}

func TestReadDirIVIgnoresCopies(t *testing.T) {
	dir := t.TempDir()
	if err := names.WriteDirIV(dir, testIV(45)); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "kmsfs.diriv (conflicted copy)"), ivBytes(46))
	writeFile(t, filepath.Join(dir, "kmsfs (1).diriv"), ivBytes(47))
	if got, err := names.ReadDirIV(dir); err != nil || got != testIV(45) {
		t.Fatalf("ReadDirIV = %x, %v; want the original %x", got, err, testIV(45))
	}
}

func TestReadDirIVDamaged(t *testing.T) {
	iv := testIV(48)
	tests := []struct {
		desc  string
		setup func(t *testing.T, path string)
	}{
		{"empty", func(t *testing.T, p string) { writeFile(t, p, []byte{}) }},
		{"15 bytes", func(t *testing.T, p string) { writeFile(t, p, iv[:15]) }},
		{"17 bytes", func(t *testing.T, p string) { writeFile(t, p, append(iv[:], 0)) }},
		{"4 KiB", func(t *testing.T, p string) { writeFile(t, p, make([]byte, 4096)) }},
		{"all zero", func(t *testing.T, p string) { writeFile(t, p, make([]byte, 16)) }},
		{"directory", func(t *testing.T, p string) { mustNil(t, os.Mkdir(p, 0o700)) }},
		{"fifo", func(t *testing.T, p string) { mustNil(t, syscall.Mkfifo(p, 0o600)) }},
		{"symlink to valid IV", func(t *testing.T, p string) {
			target := filepath.Join(filepath.Dir(p), "elsewhere")
			writeFile(t, target, iv[:])
			mustNil(t, os.Symlink(target, p))
		}},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			dir := t.TempDir()
			tc.setup(t, filepath.Join(dir, names.DirIVFile))
			got, err := names.ReadDirIV(dir)
			if !errors.Is(err, names.ErrBadDirIV) {
				t.Fatalf("ReadDirIV = %x, %v; want ErrBadDirIV", got, err)
			}
			if !strings.Contains(err.Error(), dir) {
				t.Errorf("error %q does not name the directory", err)
			}
		})
	}
}

func TestParseDirIV(t *testing.T) {
	iv := testIV(49)
	if got, err := names.ParseDirIV(iv[:]); err != nil || got != iv {
		t.Fatalf("ParseDirIV(valid) = %x, %v", got, err)
	}
	for _, bad := range [][]byte{nil, iv[:1], iv[:15], append(iv[:], 1), make([]byte, 16)} {
		if _, err := names.ParseDirIV(bad); !errors.Is(err, names.ErrBadDirIV) {
			t.Errorf("ParseDirIV(%x) = %v, want ErrBadDirIV", bad, err)
		}
	}
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	mustNil(t, os.WriteFile(path, data, 0o600))
}

// ivBytes returns testIV(b) as a slice.
func ivBytes(b byte) []byte {
	iv := testIV(b)
	return iv[:]
}

func mustNil(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
