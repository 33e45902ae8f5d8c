package names_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kmsfs/kmsfs/internal/names"
)

// listDir is the listing algorithm of NAMES.md §8, as the fs layer is meant
// to run it: it maps each visible name to its on-disk name.
func listDir(t *testing.T, c *names.Codec, dir string) map[string]string {
	t.Helper()
	iv, ivErr := names.ReadDirIV(dir)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, e := range entries {
		disk := e.Name()
		if names.IsReserved(disk) {
			continue
		}
		plain, err := "", ivErr
		if err == nil {
			plain, err = decryptEntry(c, iv, dir, disk)
		}
		if err != nil {
			plain = names.Mark(disk)
		}
		if _, dup := out[plain]; dup {
			t.Fatalf("two entries are listed as %q", plain)
		}
		out[plain] = disk
	}
	return out
}

// decryptEntry decrypts one on-disk name, reading the side file of a long one.
func decryptEntry(c *names.Codec, iv [names.DirIVSize]byte, dir, disk string) (string, error) {
	encoded := disk
	if names.IsLong(disk) {
		content, err := os.ReadFile(filepath.Join(dir, names.LongSideFile(disk)))
		if err != nil {
			return "", err
		}
		if encoded, err = names.ParseLongSide(disk, content); err != nil {
			return "", err
		}
	}
	return c.DecryptName(iv, encoded)
}

// lookup resolves a visible name to its on-disk name (NAMES.md §8).
func lookup(t *testing.T, c *names.Codec, dir, name string) (string, bool) {
	t.Helper()
	if disk, ok := names.Unmark(name); ok {
		_, err := os.Lstat(filepath.Join(dir, disk))
		return disk, err == nil
	}
	if names.IsMarked(name) {
		for _, e := range mustReadDir(t, dir) {
			if !names.IsReserved(e) && names.Mark(e) == name {
				return e, true
			}
		}
		return "", false
	}
	iv, err := names.ReadDirIV(dir)
	if err != nil {
		return "", false
	}
	disk, _, err := c.EncryptName(iv, name)
	if err != nil {
		return "", false
	}
	_, err = os.Lstat(filepath.Join(dir, disk))
	return disk, err == nil
}

func mustReadDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

// create makes the entry for name in dir the way the fs layer should: side
// file first, then the entry.
func create(t *testing.T, c *names.Codec, dir, name string) string {
	t.Helper()
	iv, err := names.ReadDirIV(dir)
	if err != nil {
		t.Fatal(err)
	}
	disk, side, err := c.EncryptName(iv, name)
	if err != nil {
		t.Fatal(err)
	}
	if side != "" {
		writeFile(t, filepath.Join(dir, names.LongSideFile(disk)), []byte(side))
	}
	writeFile(t, filepath.Join(dir, disk), []byte("content of "+name))
	return disk
}

// newDir returns a fresh encrypted directory holding a, b and one long name.
func newDir(t *testing.T, c *names.Codec, iv byte) (dir string, long string) {
	t.Helper()
	dir = t.TempDir()
	mustNil(t, names.WriteDirIV(dir, testIV(iv)))
	long = strings.Repeat("L", 200)
	for _, n := range []string{"a", "b", long} {
		create(t, c, dir, n)
	}
	return dir, long
}

func TestSyncDuplicatedDirIV(t *testing.T) {
	c := newCodec(t, 70)
	dir, long := newDir(t, c, 70)
	writeFile(t, filepath.Join(dir, "kmsfs (1).diriv"), ivBytes(71))
	writeFile(t, filepath.Join(dir, "kmsfs.diriv (Bob's conflicted copy 2024-05-01)"), ivBytes(72))
	got := listDir(t, c, dir)
	for _, n := range []string{"a", "b", long} {
		if _, ok := got[n]; !ok {
			t.Errorf("%q missing from listing %q", n, keys(got))
		}
	}
	if len(got) != 3 {
		t.Errorf("listing %q, want exactly a, b and the long name", keys(got))
	}
}

func TestSyncMissingDirIV(t *testing.T) {
	for _, damage := range []string{"missing", "truncated"} {
		t.Run(damage, func(t *testing.T) {
			c := newCodec(t, 73)
			dir, _ := newDir(t, c, 73)
			ivPath := filepath.Join(dir, names.DirIVFile)
			mustNil(t, os.Remove(ivPath))
			if damage == "truncated" {
				writeFile(t, ivPath, ivBytes(73)[:5])
			}
			got := listDir(t, c, dir)
			if len(got) != 3 {
				t.Fatalf("listing %q, want 3 marked entries", keys(got))
			}
			for name, disk := range got {
				if back, ok := names.Unmark(name); !ok || back != disk {
					t.Errorf("%q is not the mark of %q", name, disk)
				}
			}
			removeMarked(t, c, dir, got)
		})
	}
}

// removeMarked deletes every listed entry through its visible name, as a
// user cleaning up would, and checks the directory is then empty.
func removeMarked(t *testing.T, c *names.Codec, dir string, listing map[string]string) {
	t.Helper()
	for name := range listing {
		disk, ok := lookup(t, c, dir, name)
		if !ok {
			t.Fatalf("lookup(%q) failed", name)
		}
		mustNil(t, os.Remove(filepath.Join(dir, disk)))
		if names.IsLong(disk) {
			_ = os.Remove(filepath.Join(dir, names.LongSideFile(disk)))
		}
	}
	if left := listDir(t, c, dir); len(left) != 0 {
		t.Fatalf("entries left after deleting all: %q", keys(left))
	}
}

func TestSyncUndecryptableEntries(t *testing.T) {
	c := newCodec(t, 74)
	dir, long := newDir(t, c, 74)
	other, _ := newDir(t, c, 75)
	moved := create(t, c, other, "moved-in")
	mustNil(t, os.Rename(filepath.Join(other, moved), filepath.Join(dir, moved)))
	diskA, _ := lookup(t, c, dir, "a")
	conflict := diskA + " (Bob's conflicted copy 2024-05-01)"
	writeFile(t, filepath.Join(dir, conflict), []byte("their a"))
	diskLong, _ := lookup(t, c, dir, long)
	writeFile(t, filepath.Join(dir, diskLong+" (1)"), []byte("copy of long"))
	foreign := strings.Repeat("f", 250) // too long to mark reversibly
	writeFile(t, filepath.Join(dir, foreign), []byte("foreign"))
	writeFile(t, filepath.Join(dir, "notes.txt"), []byte("foreign"))

	got := listDir(t, c, dir)
	wantMarked := []string{moved, conflict, diskLong + " (1)", foreign, "notes.txt"}
	for _, disk := range wantMarked {
		if got[names.Mark(disk)] != disk {
			t.Errorf("%q is not listed as %q", disk, names.Mark(disk))
		}
	}
	if len(got) != 3+len(wantMarked) {
		t.Errorf("listing has %d entries, want %d: %q", len(got), 3+len(wantMarked), keys(got))
	}
	removeMarked(t, c, dir, got)
}

func TestSyncLostSideFile(t *testing.T) {
	c := newCodec(t, 76)
	dir, long := newDir(t, c, 76)
	disk, _ := lookup(t, c, dir, long)
	mustNil(t, os.Remove(filepath.Join(dir, names.LongSideFile(disk))))
	got := listDir(t, c, dir)
	if got[names.Mark(disk)] != disk {
		t.Fatalf("long entry without side file not listed as marked: %q", keys(got))
	}
	if _, err := decryptEntry(c, testIV(76), dir, disk); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("decryptEntry = %v, want ErrNotExist", err)
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
