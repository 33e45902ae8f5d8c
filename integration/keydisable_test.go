package integration

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestKeyDisableOpenFile (issue 12 item 11; README "Key rotation, rewrap,
// fsck and re-key"): a file opened before `kmsfs key disable` stays
// readable and writable until its last descriptor is closed (the mount
// holds its data key while it is open, and further opens of it share
// that); a file not open fails to open with EACCES, and so does the first
// once closed; after `key enable` it opens again with what was written.
func TestKeyDisableOpenFile(t *testing.T) {
	v := newVol(t)
	v.mount()
	p := filepath.Join(v.plain, "open.txt")
	data := bytes.Repeat([]byte("open before disable\n"), 10000)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	closed := filepath.Join(v.plain, "closed.txt")
	if err := os.WriteFile(closed, data, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(p, os.O_RDWR|syscall.O_DIRECT, 0)
	if err != nil {
		f, err = os.OpenFile(p, os.O_RDWR, 0)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	v.must("key", "disable", "alias/kmsfs")
	t.Cleanup(func() { v.kmsfs("key", "enable", "alias/kmsfs") })

	if err := openFails(closed); !errors.Is(err, syscall.EACCES) {
		t.Errorf("opening a file not open after key disable: %v, want EACCES", err)
	}
	if got, err := os.ReadFile(p); err != nil || !bytes.Equal(got, data) {
		t.Errorf("a second open of the file still open: %d bytes, %v", len(got), err)
	}
	got, err := io.ReadAll(io.NewSectionReader(f, 0, int64(len(data))))
	if err != nil || !bytes.Equal(got, data) {
		t.Errorf("reading the file opened before disable: %d bytes, %v", len(got), err)
	}
	if _, err := f.WriteAt([]byte("WRITTEN"), 4096); err != nil {
		t.Errorf("writing the file opened before disable: %v", err)
	}
	copy(data[4096:], "WRITTEN")
	if err := f.Close(); err != nil {
		t.Errorf("closing: %v", err)
	}
	if err := openFails(p); !errors.Is(err, syscall.EACCES) {
		t.Errorf("an open after the close: %v, want EACCES", err)
	}
	v.must("key", "enable", "alias/kmsfs")
	if got, err := os.ReadFile(p); err != nil || !bytes.Equal(got, data) {
		t.Errorf("after key enable: %d bytes, %v", len(got), err)
	}
}

// openFails opens and reads p until that fails, for up to 5 s, and
// returns the error: the kernel releases a closed FUSE file after close(2)
// returns, so the mount may hold it (and its data key) a moment longer.
func openFails(p string) error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := os.ReadFile(p)
		if err != nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}
