package fs

import (
	"os"
	"syscall"
	"testing"
	"time"
)

// TestSetattrOnOpenFile: fchmod, fchown and futimens of a file some
// handle has open (the kernel sends them without a handle) go through its
// open descriptor: they work after the file lost its name (renamed
// over, or unlinked) while open, as on a local disk, and change neither
// the file now under that name nor the data written so far.
func TestSetattrOnOpenFile(t *testing.T) {
	for _, gone := range []string{"renamed over", "unlinked"} {
		t.Run(gone, func(t *testing.T) {
			tm := newTestMount(t)
			f, err := os.OpenFile(tm.path("f"), os.O_RDWR|os.O_CREATE, 0o644)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			want := plaintext(2*tm.chunk + 7)
			if _, err := f.Write(want); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(tm.path("g"), []byte("g"), 0o644); err != nil {
				t.Fatal(err)
			}
			if gone == "unlinked" {
				err = os.Remove(tm.path("f"))
			} else {
				err = os.Rename(tm.path("g"), tm.path("f"))
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := f.Chmod(0o600); err != nil {
				t.Fatalf("fchmod: %v", err)
			}
			if err := f.Chown(4321, 4321); err != nil {
				t.Fatalf("fchown: %v", err)
			}
			mtime := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
			if err := os.Chtimes("/proc/self/fd/"+itoa(uint64(f.Fd())), mtime, mtime); err != nil {
				t.Fatalf("futimens: %v", err)
			}
			fi, err := f.Stat()
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o600 || !fi.ModTime().Equal(mtime) || fi.Size() != int64(len(want)) {
				t.Errorf("open file: mode %v mtime %v size %d, want 0600, %v, %d", fi.Mode(), fi.ModTime(), fi.Size(), mtime, len(want))
			}
			if st := fi.Sys().(*syscall.Stat_t); st.Uid != 4321 || st.Gid != 4321 {
				t.Errorf("open file: owner %d:%d, want 4321:4321", st.Uid, st.Gid)
			}
			if gone == "renamed over" {
				gi, err := os.Stat(tm.path("f"))
				if err != nil {
					t.Fatal(err)
				}
				if gi.Mode().Perm() != 0o644 || gi.Size() != 1 {
					t.Errorf("the file renamed over the name: mode %v size %d, want 0644 and 1 byte", gi.Mode(), gi.Size())
				}
			}
			got := make([]byte, len(want)+1)
			n, err := f.ReadAt(got, 0)
			if n != len(want) || string(got[:n]) != string(want) {
				t.Errorf("read back %d bytes (%v), want the %d written", n, err, len(want))
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			tm.waitReleased(t)
			tm.noWarnings(t)
		})
	}
}
