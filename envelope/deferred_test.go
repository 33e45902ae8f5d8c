package envelope_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"syscall"
	"testing"

	"github.com/kmsfs/kmsfs/envelope"
	"github.com/kmsfs/kmsfs/internal/memfile"
	"github.com/kmsfs/kmsfs/internal/testkms"
)

// writeLog is a Backing that records each write's offset and length, and
// can fail writes after a number of bytes (a full disk).
type writeLog struct {
	*memfile.File
	writes []string
	room   int // bytes a write may still add past the end; < 0: unlimited
}

func newWriteLog() *writeLog { return &writeLog{File: memfile.New(nil), room: -1} }

func (w *writeLog) WriteAt(p []byte, off int64) (int, error) {
	w.writes = append(w.writes, fmt.Sprintf("%d+%d", off, len(p)))
	if w.room >= 0 {
		end := int64(len(w.Bytes()))
		if past := off + int64(len(p)) - end; past > int64(w.room) {
			n := int(end-off) + w.room
			m, _ := w.File.WriteAt(p[:n], off)
			w.room = 0
			return m, syscall.ENOSPC
		}
	}
	return w.File.WriteAt(p, off)
}

// reopen opens a copy of ct, as after a crash of the writer.
func reopen(t *testing.T, ct []byte, kms *testkms.Service) *envelope.File {
	t.Helper()
	f, err := envelope.Open(bg, memfile.New(ct), kms, 4096)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func readToEnd(t *testing.T, f *envelope.File) []byte {
	t.Helper()
	got := make([]byte, f.Size()+1)
	n, err := f.ReadAt(got, 0)
	if !errors.Is(err, io.EOF) {
		t.Fatalf("ReadAt to the end: %v, want io.EOF", err)
	}
	return got[:n]
}

func committed(t *testing.T, ct []byte, kms *testkms.Service) int64 {
	t.Helper()
	h, err := envelope.ReadHeader(bg, memfile.New(ct), kms)
	if err != nil {
		t.Fatalf("ReadHeader: %v", err)
	}
	return h.CommittedSize
}

// TestCreateDeferredWritesNothing: a file from CreateDeferred stays empty
// (a valid empty file, FORMAT.md §2.1) until written, also after Close,
// but a key service failure fails it as it fails Create.
func TestCreateDeferredWritesNothing(t *testing.T) {
	kms := newKMS(t, 1)
	b := newWriteLog()
	f, err := envelope.CreateDeferred(bg, b, kms, 4096)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Flush(); err != nil {
		t.Fatal(err)
	}
	if f.Uncommitted() {
		t.Error("Uncommitted on an empty file")
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if len(b.writes) != 0 || len(b.Bytes()) != 0 {
		t.Fatalf("writes %v, %d bytes; want none", b.writes, len(b.Bytes()))
	}
	if got := readToEnd(t, reopen(t, b.Bytes(), kms)); len(got) != 0 {
		t.Errorf("reopened: %d bytes, want 0", len(got))
	}

	kms.SetDisabled(true)
	if _, err := envelope.CreateDeferred(bg, newWriteLog(), kms, 4096); !errors.Is(err, testkms.ErrDisabled) {
		t.Errorf("CreateDeferred with a disabled key: %v, want ErrDisabled", err)
	}
	if _, err := envelope.CreateDeferred(bg, memfile.New([]byte{1}), newKMS(t, 1), 4096); !errors.Is(err, envelope.ErrNotEmpty) {
		t.Errorf("CreateDeferred on a non-empty backing: %v, want ErrNotEmpty", err)
	}
}

// TestWriteAtFloor: the first write of at most one chunk at offset 0
// writes header and chunk in one write with the floor at its end, so that
// Flush and Close write nothing and a crash right after it leaves the
// whole file, not short. Larger or later writes are WriteAt's, and Flush
// commits their floor.
func TestWriteAtFloor(t *testing.T) {
	const c = 4096
	for _, n := range []int{1, c - 1, c, c + 1, 2*c + 500} {
		for _, deferred := range []bool{true, false} {
			t.Run(fmt.Sprintf("len=%d,deferred=%v", n, deferred), func(t *testing.T) {
				kms := newKMS(t, 1)
				b := newWriteLog()
				f, err := envelope.CreateDeferred(bg, b, kms, c)
				if !deferred {
					f, err = envelope.Open(bg, b, kms, c) // an empty file opened
				}
				if err != nil {
					t.Fatal(err)
				}
				plain := pattern(n, "floor")
				if m, err := f.WriteAtFloor(plain, 0); m != n || err != nil {
					t.Fatalf("WriteAtFloor = %d, %v", m, err)
				}
				one := n <= c
				wantCS := envelope.CiphertextSize(int64(n), c)
				if one && (len(b.writes) != 1 || b.writes[0] != fmt.Sprintf("0+%d", wantCS)) {
					t.Errorf("writes %v, want one of %d bytes at 0", b.writes, wantCS)
				}
				crashed := bytes.Clone(b.Bytes()) // what a crash now leaves
				if got := readToEnd(t, reopen(t, crashed, kms)); !bytes.Equal(got, plain) {
					t.Errorf("after a crash: %d bytes, want the %d written", len(got), n)
				}
				if cs := committed(t, crashed, kms); one && cs != int64(n) {
					t.Errorf("committed size %d after the write, want %d", cs, n)
				}
				if got := f.Uncommitted(); got == one {
					t.Errorf("Uncommitted = %v, want %v", got, !one)
				}
				before := len(b.writes)
				if err := f.Flush(); err != nil {
					t.Fatal(err)
				}
				if one && len(b.writes) != before {
					t.Errorf("Flush wrote %v", b.writes[before:])
				}
				if cs := committed(t, b.Bytes(), kms); cs != int64(n) {
					t.Errorf("committed size %d after Flush, want %d", cs, n)
				}
				before = len(b.writes)
				if err := f.Close(); err != nil {
					t.Fatal(err)
				}
				if len(b.writes) != before {
					t.Errorf("Close after Flush wrote %v", b.writes[before:])
				}
				if cs := committed(t, b.Bytes(), kms); cs != int64(n) {
					t.Errorf("committed size %d after Close, want %d", cs, n)
				}
				if err := envelope.Verify(bg, memfile.New(b.Bytes()), kms, false); err != nil {
					t.Errorf("Verify: %v", err)
				}
			})
		}
	}
}

// TestWriteAtFloorLater: WriteAtFloor on a file that has data, or at an
// offset past 0, is an ordinary write.
func TestWriteAtFloorLater(t *testing.T) {
	kms := newKMS(t, 1)
	for _, tc := range []struct {
		name  string
		first []byte
		off   int64
		next  []byte
	}{
		{"overwrite", []byte("hello"), 0, []byte("J")},
		{"grow", []byte("hello"), 0, []byte("hello, world")},
		{"hole", nil, 5000, []byte("x")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newWriteLog()
			f, err := envelope.CreateDeferred(bg, b, kms, 4096)
			if err != nil {
				t.Fatal(err)
			}
			want := make([]byte, tc.off+int64(len(tc.next)))
			if tc.first != nil {
				if _, err := f.WriteAtFloor(tc.first, 0); err != nil {
					t.Fatal(err)
				}
				want = append(bytes.Clone(tc.first), make([]byte, max(0, len(want)-len(tc.first)))...)
			}
			if _, err := f.WriteAtFloor(tc.next, tc.off); err != nil {
				t.Fatal(err)
			}
			copy(want[tc.off:], tc.next)
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			if got := readToEnd(t, reopen(t, b.Bytes(), kms)); !bytes.Equal(got, want) {
				t.Errorf("read %q, want %q", got, want)
			}
			if cs := committed(t, b.Bytes(), kms); cs != int64(len(want)) {
				t.Errorf("committed size %d, want %d", cs, len(want))
			}
		})
	}
}

// TestWriteAtFloorFull: a first write that the disk cuts short leaves the
// file empty, not a header promising data that is not there; the next
// write works.
func TestWriteAtFloorFull(t *testing.T) {
	kms := newKMS(t, 1)
	for _, room := range []int{0, 10, envelope.HeaderSize, envelope.HeaderSize + 40} {
		t.Run(fmt.Sprintf("room=%d", room), func(t *testing.T) {
			b := newWriteLog()
			b.room = room
			f, err := envelope.CreateDeferred(bg, b, kms, 4096)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.WriteAtFloor(pattern(100, "full"), 0); !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("write on a full disk: %v, want ENOSPC", err)
			}
			if len(b.Bytes()) != 0 || f.Size() != 0 {
				t.Fatalf("after the failed write: %d backing bytes, size %d; want empty", len(b.Bytes()), f.Size())
			}
			b.room = -1
			plain := pattern(50, "after")
			if _, err := f.WriteAtFloor(plain, 0); err != nil {
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			if got := readToEnd(t, reopen(t, b.Bytes(), kms)); !bytes.Equal(got, plain) {
				t.Errorf("read %d bytes, want the %d written", len(got), len(plain))
			}
		})
	}
}

// TestCreateDeferredRewrap: a rewrap before the first write leaves no
// wrap under the old key version behind: the header written later is
// wrapped by the new wrapper. A size-extending Truncate writes the header
// too.
func TestCreateDeferredRewrap(t *testing.T) {
	for _, first := range []string{"write", "truncate"} {
		t.Run(first, func(t *testing.T) {
			kms := newKMS(t, 2)
			kms.SetCurrent(1)
			b := newWriteLog()
			f, err := envelope.CreateDeferred(bg, b, kms, 4096)
			if err != nil {
				t.Fatal(err)
			}
			kms.SetCurrent(2)
			if changed, err := f.Rewrap(bg, kms); changed || err != nil {
				t.Fatalf("Rewrap of an empty file = %v, %v; want false, nil", changed, err)
			}
			if first == "write" {
				_, err = f.WriteAtFloor([]byte("data"), 0)
			} else {
				err = f.Truncate(4)
			}
			if err != nil {
				t.Fatal(err)
			}
			// The header is on disk already, not only in memory (Close
			// would write a pending one anyway): ReadHeader finds it. The
			// write commits its floor with it; the truncation's floor
			// follows at Flush or Close.
			wantFloor := map[string]int64{"write": 4, "truncate": 0}[first]
			if cs := committed(t, b.Bytes(), kms); cs != wantFloor {
				t.Errorf("after the first %s: committed size %d on disk, want %d", first, cs, wantFloor)
			}
			if ref := f.KeyRef(); ref.Version != 2 {
				t.Errorf("header under version %d, want 2", ref.Version)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			if v1Unwraps(t, b.Bytes(), 0) || v1Unwraps(t, b.Bytes(), 1) {
				t.Error("a slot unwraps under version 1")
			}
		})
	}
}
