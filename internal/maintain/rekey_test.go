package maintain_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kmsfs/kmsfs/envelope"
	"github.com/kmsfs/kmsfs/internal/maintain"
)

// fileID returns the file ID in the preamble of the ciphertext file at p.
func fileID(t *testing.T, p string) [16]byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil || len(b) < envelope.PreambleSize {
		t.Fatalf("reading %s: %v", p, err)
	}
	pre, err := envelope.ParsePreamble(b[:envelope.PreambleSize])
	if err != nil {
		t.Fatal(err)
	}
	return pre.FileID
}

// TestRekeyCipherFile gives files a new file ID and DEK with the same
// contents and metadata, for sizes around chunk boundaries and sparse
// files.
func TestRekeyCipherFile(t *testing.T) {
	k := newKMS(t)
	sparse := make([]byte, 40*testChunk)
	copy(sparse[5*testChunk:], "island")
	copy(sparse[len(sparse)-3:], "end")
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"1 byte", []byte{1}},
		{"chunk", content(1, testChunk)},
		{"chunk+1", content(2, testChunk+1)},
		{"1MiB+", content(3, 1<<20+3)},
		{"sparse", sparse},
		{"zeros", make([]byte, 3*testChunk)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			p := writeFile(t, k.keys(), dir, "f", tc.data)
			if err := os.Chown(p, 1234, 5678); err != nil { // first: chown clears set-id bits
				t.Fatal(err)
			}
			if err := unix.Chmod(p, 0o4751); err != nil {
				t.Fatal(err)
			}
			if err := unix.Setxattr(p, "user.colour", []byte("blue"), 0); err != nil {
				t.Fatal(err)
			}
			mtime := time.Date(2003, 4, 5, 6, 7, 8, 9, time.UTC)
			if err := os.Chtimes(p, mtime, mtime); err != nil {
				t.Fatal(err)
			}
			oldID := fileID(t, p)
			if err := maintain.RekeyCipherFile(context.Background(), p, k.keys(), testChunk); err != nil {
				t.Fatal(err)
			}
			if fileID(t, p) == oldID {
				t.Error("file ID unchanged")
			}
			if got := readFile(t, k.keys(), p); !bytes.Equal(got, tc.data) {
				t.Error("contents changed")
			}
			var st unix.Stat_t
			if err := unix.Stat(p, &st); err != nil {
				t.Fatal(err)
			}
			if st.Mode&0o7777 != 0o4751 || st.Uid != 1234 || st.Gid != 5678 ||
				st.Mtim.Sec != mtime.Unix() || st.Mtim.Nsec != 9 {
				t.Errorf("metadata not kept: mode %o uid %d gid %d mtime %v", st.Mode&0o7777, st.Uid, st.Gid, st.Mtim)
			}
			buf := make([]byte, 16)
			if n, err := unix.Getxattr(p, "user.colour", buf); err != nil || string(buf[:n]) != "blue" {
				t.Errorf("xattr: %q, %v", buf[:n], err)
			}
			if tc.name == "sparse" && st.Blocks*512 > 8*testChunk {
				t.Errorf("sparse file takes %d bytes on disk after rekey", st.Blocks*512)
			}
			if left, _ := filepath.Glob(filepath.Join(dir, maintain.RekeyTempPrefix+"*")); len(left) != 0 {
				t.Errorf("temporary files left: %v", left)
			}
		})
	}
}

// TestRekeyRefuses: damaged files, hard links and special files are left
// as they are, with no temporary file behind.
func TestRekeyRefuses(t *testing.T) {
	k := newKMS(t)
	dir := t.TempDir()
	damaged := writeFile(t, k.keys(), dir, "damaged", content(1, 3*testChunk))
	flipBytes(t, damaged, envelope.HeaderSize+int64(testChunk+envelope.ChunkOverhead)+5)
	linked := writeFile(t, k.keys(), dir, "linked", content(2, 10))
	if err := os.Link(linked, filepath.Join(dir, "link2")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("linked", filepath.Join(dir, "sym")); err != nil {
		t.Fatal(err)
	}
	empty := writeFile(t, k.keys(), dir, "empty", nil)
	cut := writeFile(t, k.keys(), dir, "cut", content(3, 3*testChunk))
	if err := os.Truncate(cut, envelope.HeaderSize+2*int64(testChunk+envelope.ChunkOverhead)); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path string
		want error
	}{
		{damaged, envelope.ErrUnauthenticated},
		{linked, maintain.ErrHardLinks},
		{filepath.Join(dir, "sym"), unix.ELOOP},
		{filepath.Join(dir, "missing"), os.ErrNotExist},
		{empty, nil},
		{cut, envelope.ErrTruncated},
	} {
		before, _ := os.ReadFile(tc.path)
		err := maintain.RekeyCipherFile(context.Background(), tc.path, k.keys(), testChunk)
		if (tc.want == nil) != (err == nil) || (tc.want != nil && !errors.Is(err, tc.want)) {
			t.Errorf("RekeyCipherFile(%s): %v, want %v", filepath.Base(tc.path), err, tc.want)
		}
		if after, _ := os.ReadFile(tc.path); !bytes.Equal(before, after) {
			t.Errorf("%s changed", filepath.Base(tc.path))
		}
	}
	if left, _ := filepath.Glob(filepath.Join(dir, maintain.RekeyTempPrefix+"*")); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

// TestRekeyPlainFile re-keys a plain file as through a mount: contents,
// metadata and sparseness kept, inode replaced.
func TestRekeyPlainFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "plain")
	data := make([]byte, 3<<20)
	copy(data[1<<20:], "middle")
	if err := os.WriteFile(p, data, 0o640); err != nil {
		t.Fatal(err)
	}
	if err := unix.Setxattr(p, "user.tag", []byte("x"), 0); err != nil {
		t.Fatal(err)
	}
	mtime := time.Date(2010, 1, 1, 0, 0, 0, 0, time.UTC)
	os.Chtimes(p, mtime, mtime)
	var before unix.Stat_t
	unix.Stat(p, &before)
	if err := maintain.RekeyPlainFile(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(p)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("contents changed: %v", err)
	}
	var after unix.Stat_t
	unix.Stat(p, &after)
	if after.Ino == before.Ino || after.Mode != before.Mode || after.Mtim != before.Mtim {
		t.Errorf("stat before %+v after %+v", before, after)
	}
	if after.Blocks*512 > 1<<20 {
		t.Errorf("sparse copy takes %d bytes", after.Blocks*512)
	}
	buf := make([]byte, 4)
	if n, err := unix.Getxattr(p, "user.tag", buf); err != nil || string(buf[:n]) != "x" {
		t.Errorf("xattr %q, %v", buf[:n], err)
	}
}
