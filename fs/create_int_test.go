package fs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kmsfs/kmsfs/envelope"
	"github.com/kmsfs/kmsfs/internal/memfile"
)

// TestCreateWriteClose: a file created, written with one write(2) and
// closed keeps, as seen through the mount and after a remount, the mtime
// of its data write; its committed size is its size; and what a crash of
// the mount right after the write leaves (the backing file as it is then)
// reads back whole, not short. A file created and closed unwritten is an
// empty backing file.
func TestCreateWriteClose(t *testing.T) {
	tm := newTestMount(t)
	c := tm.chunk
	for _, n := range []int{0, 1, c - 1, c, c + 1, 2*c + 500} {
		t.Run(fmt.Sprintf("len=%d", n), func(t *testing.T) {
			name := fmt.Sprintf("f%d", n)
			f, err := os.Create(tm.path(name))
			if err != nil {
				t.Fatal(err)
			}
			plain := plaintext(n)
			if _, err := f.Write(plain); err != nil {
				t.Fatal(err)
			}
			crashed, err := os.ReadFile(tm.cpath(t, name))
			if err != nil {
				t.Fatal(err)
			}
			var open unix.Stat_t
			if err := unix.Fstat(int(f.Fd()), &open); err != nil {
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			checkImage(t, tm, crashed, plain, n <= c)
			tm.waitReleased(t)
			ct, err := os.ReadFile(tm.cpath(t, name))
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 && len(ct) != 0 {
				t.Errorf("unwritten file: %d backing bytes, want 0", len(ct))
			}
			if n > 0 {
				checkImage(t, tm, ct, plain, true)
			}
			want := time.Unix(open.Mtim.Unix())
			for _, p := range []string{tm.path(name), tm.cpath(t, name), tm.remount(t).path(name)} {
				fi, err := os.Stat(p)
				if err != nil {
					t.Fatal(err)
				}
				if !fi.ModTime().Equal(want) {
					t.Errorf("%s: mtime %v, want %v (at the write)", p, fi.ModTime(), want)
				}
			}
		})
	}
	tm.noWarnings(t)
}

// checkImage opens the backing bytes ct as the file's state: it must read
// back as plain, not short, and with floor set its committed size must be
// the size.
func checkImage(t *testing.T, tm *testMount, ct, plain []byte, floor bool) {
	t.Helper()
	ef, err := envelope.Open(context.Background(), memfile.New(ct), tm.keys, tm.chunk)
	if err != nil {
		t.Fatalf("open of the backing bytes: %v", err)
	}
	defer ef.Close()
	if err := ef.Truncation(); err != nil {
		t.Errorf("backing bytes are short: %v", err)
	}
	got := make([]byte, len(plain)+1)
	m, err := ef.ReadAt(got, 0)
	if !errors.Is(err, io.EOF) || !bytes.Equal(got[:m], plain) {
		t.Errorf("backing bytes read %d bytes (%v), want the %d written", m, err, len(plain))
	}
	if len(ct) == 0 {
		return
	}
	h, err := envelope.ReadHeader(context.Background(), memfile.New(ct), tm.keys)
	if err != nil {
		t.Fatal(err)
	}
	if floor && h.CommittedSize != int64(len(plain)) {
		t.Errorf("committed size %d, want %d", h.CommittedSize, len(plain))
	}
}

// TestCreateWriteTwiceClose: a small file written with two write(2)s (as
// tar writes across its records) still gets its committed size at close,
// keeps the mtime of the last write, and the release after the close
// writes nothing more.
func TestCreateWriteTwiceClose(t *testing.T) {
	tm := newTestMount(t)
	plain := plaintext(tm.chunk + 100)
	f, err := os.Create(tm.path("f"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(plain[:300]); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(plain[300:]); err != nil {
		t.Fatal(err)
	}
	var open unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &open); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond) // the header commit at close gets a later time
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	closed, closedCtime := backingImage(t, tm.cpath(t, "f"))
	tm.waitReleased(t)
	ct, ctime := backingImage(t, tm.cpath(t, "f"))
	if !bytes.Equal(ct, closed) || ctime != closedCtime {
		t.Errorf("the release after close changed the backing file (ctime %v, then %v)", closedCtime, ctime)
	}
	checkImage(t, tm, ct, plain, true)
	want := time.Unix(open.Mtim.Unix())
	for _, p := range []string{tm.path("f"), tm.cpath(t, "f")} {
		var st syscall.Stat_t
		if err := syscall.Stat(p, &st); err != nil {
			t.Fatal(err)
		}
		if got := time.Unix(st.Mtim.Unix()); !got.Equal(want) {
			t.Errorf("%s: mtime %v, want %v (at the last write)", p, got, want)
		}
	}
	tm.noWarnings(t)
}

// backingImage returns the backing file p's bytes and its ctime.
func backingImage(t *testing.T, p string) ([]byte, unix.Timespec) {
	t.Helper()
	ct, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	if err := unix.Stat(p, &st); err != nil {
		t.Fatal(err)
	}
	return ct, st.Ctim
}
