package fs

import (
	"bytes"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/kmsfs/kmsfs/internal/testkms"
	"golang.org/x/sys/unix"
)

// TestDiskFull fills a small tmpfs under CipherDir: writes fail with
// ENOSPC (not EIO), and the file stays readable with everything written
// before the failure.
func TestDiskFull(t *testing.T) {
	requireFUSE(t)
	dir := t.TempDir()
	small := filepath.Join(dir, "small")
	if err := os.Mkdir(small, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", small, "tmpfs", 0, "size=256k"); err != nil {
		t.Skipf("cannot mount a small tmpfs: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(small, unix.MNT_DETACH) })
	tm := &testMount{mnt: filepath.Join(dir, "mnt"), cipher: small, keys: testkms.NewFixed(), logs: &logBuf{}}
	if err := os.Mkdir(tm.mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	tm.chunk = 4096
	tm.mountWith(t, Options{CipherDir: small, Keys: tm.keys, ChunkSize: tm.chunk})

	f, err := os.OpenFile(tm.path("big"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	block := plaintext(3000) // not chunk aligned: partial chunks at every step
	var written []byte
	for {
		_, err := f.Write(block)
		if err != nil {
			if !errnoIs(err, syscall.ENOSPC) {
				t.Fatalf("write on a full disk: %v, want ENOSPC", err)
			}
			break
		}
		written = append(written, block...)
		if len(written) > 1<<20 {
			t.Fatal("no ENOSPC after 1 MiB on a 256 KiB filesystem")
		}
	}
	// Overwriting in place needs no new space and must still work.
	if _, err := f.WriteAt([]byte("OVER"), 10); err != nil {
		t.Errorf("overwrite on a full disk: %v", err)
	}
	copy(written[10:], "OVER")
	got, err := os.ReadFile(tm.path("big"))
	if err != nil {
		t.Fatalf("read after ENOSPC: %v", err)
	}
	if !bytes.Equal(got[:len(written)], written) {
		t.Errorf("contents written before ENOSPC changed")
	}
	if len(got) != len(written) {
		t.Logf("file is %d bytes, %d acknowledged", len(got), len(written))
	}
}

// TestFallocate: mode 0 grows the plaintext with zeros, KEEP_SIZE keeps
// the size, modes that would rewrite chunks are refused; fsync and
// fdatasync work.
func TestFallocate(t *testing.T) {
	tm := newTestMount(t)
	f, err := os.OpenFile(tm.path("f"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write([]byte("abc")); err != nil {
		t.Fatal(err)
	}
	fd := int(f.Fd())
	if err := unix.Fallocate(fd, 0, 1, 2*int64(tm.chunk)); err != nil {
		t.Fatalf("fallocate grow: %v", err)
	}
	if err := unix.Fallocate(fd, unix.FALLOC_FL_KEEP_SIZE, 0, 5*int64(tm.chunk)); err != nil {
		t.Fatalf("fallocate keep size: %v", err)
	}
	for _, mode := range []uint32{unix.FALLOC_FL_PUNCH_HOLE | unix.FALLOC_FL_KEEP_SIZE, unix.FALLOC_FL_ZERO_RANGE, unix.FALLOC_FL_COLLAPSE_RANGE} {
		if err := unix.Fallocate(fd, mode, 0, int64(tm.chunk)); !errnoIs(err, syscall.EOPNOTSUPP) {
			t.Errorf("fallocate mode %#x: %v, want EOPNOTSUPP", mode, err)
		}
	}
	if err := f.Sync(); err != nil {
		t.Errorf("fsync: %v", err)
	}
	if err := unix.Fdatasync(fd); err != nil {
		t.Errorf("fdatasync: %v", err)
	}
	want := append([]byte("abc"), make([]byte, 2*tm.chunk-2)...)
	checkFile(t, tm, "f", want)
	tm.noWarnings(t)
}
