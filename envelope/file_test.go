package envelope_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/kmsfs/kmsfs/envelope"
	"github.com/kmsfs/kmsfs/internal/memfile"
)

func TestEmptyFileLazyHeader(t *testing.T) {
	kms := newKMS(t, 1)
	b := &memfile.File{}
	f, err := envelope.Open(bg, b, kms, tc4k)
	if err != nil {
		t.Fatal(err)
	}
	if f.Size() != 0 || f.FileID() != [16]byte{} || f.KeyRef() != (envelope.KeyRef{}) {
		t.Errorf("empty file: size %d, id %x, ref %v", f.Size(), f.FileID(), f.KeyRef())
	}
	if err := f.Sync(); err != nil || len(b.Bytes()) != 0 {
		t.Fatalf("Sync of an empty file wrote %d bytes, %v", len(b.Bytes()), err)
	}
	if n, err := f.ReadAt(make([]byte, 10), 0); n != 0 || err != io.EOF {
		t.Errorf("ReadAt of empty file = %d, %v", n, err)
	}
	if _, err := f.WriteAt([]byte("x"), 0); err != nil {
		t.Fatal(err)
	}
	id := f.FileID()
	if id == [16]byte{} || f.KeyRef().Version != 1 || len(b.Bytes()) != envelope.HeaderSize+1+28 {
		t.Errorf("after first write: id %x, ref %v, %d bytes", id, f.KeyRef(), len(b.Bytes()))
	}
	if err := f.Truncate(0); err != nil || len(b.Bytes()) != 0 || f.FileID() != [16]byte{} {
		t.Fatalf("Truncate(0): %v, %d bytes left, id %x", err, len(b.Bytes()), f.FileID())
	}
	if _, err := f.WriteAt([]byte("y"), 0); err != nil {
		t.Fatal(err)
	}
	if f.FileID() == id {
		t.Error("file ID reused after Truncate(0)")
	}
	f.Close()
	if err := envelope.Verify(bg, &memfile.File{}, kms, false); err != nil {
		t.Errorf("Verify(empty) = %v", err)
	}
	if _, err := envelope.ReadHeader(bg, &memfile.File{}, kms); !errors.Is(err, envelope.ErrNoHeader) {
		t.Errorf("ReadHeader(empty) = %v, want ErrNoHeader", err)
	}
}

// TestGrowLeavesHoles: growing by Truncate or by writing far past the end
// leaves the skipped chunks unwritten (all-zero ciphertext) and pads a
// short old last chunk to full size.
func TestGrowLeavesHoles(t *testing.T) {
	kms := newKMS(t, 1)
	for _, viaWrite := range []bool{false, true} {
		b := &memfile.File{}
		f, err := envelope.Open(bg, b, kms, tc4k)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteAt([]byte("head"), 0); err != nil {
			t.Fatal(err)
		}
		newSize := int64(5*tc4k + 10)
		if viaWrite {
			_, err = f.WriteAt([]byte("tail"), newSize-4)
		} else {
			err = f.Truncate(newSize)
		}
		if err != nil {
			t.Fatal(err)
		}
		ct := b.Bytes()
		stored := tc4k + envelope.ChunkOverhead
		if len(ct) != envelope.HeaderSize+5*stored+10+28 {
			t.Fatalf("ciphertext size %d", len(ct))
		}
		for i := 1; i < 5; i++ {
			if !bytes.Equal(ct[chunkOff(i):chunkOff(i+1)], make([]byte, stored)) {
				t.Errorf("viaWrite=%v: chunk %d was written, want a hole", viaWrite, i)
			}
		}
		want := make([]byte, newSize)
		copy(want, "head")
		if viaWrite {
			copy(want[newSize-4:], "tail")
		}
		mustEqual(t, "grown", readAll(t, f), want)
		f.Close()
		if err := envelope.Verify(bg, b, kms, false); err != nil {
			t.Errorf("Verify: %v", err)
		}
	}
}

// eventFile records the order of header writes, syncs and truncates.
type eventFile struct {
	*memfile.File
	mu     sync.Mutex
	events []string
}

func (e *eventFile) log(s string) { e.mu.Lock(); e.events = append(e.events, s); e.mu.Unlock() }

func (e *eventFile) WriteAt(p []byte, off int64) (int, error) {
	switch {
	case off == 0:
		e.log("header")
	case off < envelope.HeaderSize:
		e.log("slot")
	default:
		e.log("chunk")
	}
	return e.File.WriteAt(p, off)
}
func (e *eventFile) Sync() error            { e.log("sync"); return e.File.Sync() }
func (e *eventFile) Truncate(n int64) error { e.log("truncate"); return e.File.Truncate(n) }
func (e *eventFile) take() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := strings.Join(e.events, ",")
	e.events = nil
	return s
}

func TestOperationOrder(t *testing.T) {
	kms := newKMS(t, 1)
	b := &eventFile{File: &memfile.File{}}
	f, err := envelope.Create(bg, b, kms, tc4k)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		op   func() error
		want string
	}{
		{"create", func() error { return nil }, "header"},
		// The three chunks lie back to back: one write.
		{"write", func() error { _, err := f.WriteAt(pattern(2*tc4k+100, "o"), 0); return err }, "chunk"},
		{"sync after growth", f.Sync, "sync,slot,sync"},
		{"sync without growth", f.Sync, "sync"},
		{"shrink inside a chunk", func() error { return f.Truncate(tc4k + 5) }, "slot,sync,chunk,truncate"},
		{"shrink at a boundary", func() error { return f.Truncate(tc4k) }, "slot,sync,truncate"},
		{"grow", func() error { return f.Truncate(3*tc4k + 1) }, "chunk"},
		// Chunk 1 is a hole left by the grow: as the new last chunk it is sealed.
		{"shrink above the floor onto a hole", func() error { return f.Truncate(2 * tc4k) }, "chunk,truncate"},
		{"close after growth", f.Close, "slot"},
	} {
		if err := tc.op(); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := b.take(); got != tc.want {
			t.Errorf("%s: events %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestClosed(t *testing.T) {
	kms := newKMS(t, 1)
	f, err := envelope.Create(bg, &memfile.File{}, kms, tc4k)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	_, errR := f.ReadAt(make([]byte, 1), 0)
	_, errW := f.WriteAt([]byte("x"), 0)
	_, errRw := f.Rewrap(bg, kms)
	for name, err := range map[string]error{
		"ReadAt": errR, "WriteAt": errW, "Truncate": f.Truncate(5), "Sync": f.Sync(), "Close": f.Close(), "Rewrap": errRw,
	} {
		if !errors.Is(err, envelope.ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", name, err)
		}
	}
}

func TestArgumentErrors(t *testing.T) {
	kms := newKMS(t, 1)
	f, err := envelope.Create(bg, &memfile.File{}, kms, tc4k)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	_, e1 := f.WriteAt([]byte("x"), -1)
	_, e2 := f.ReadAt(make([]byte, 1), -1)
	_, e3 := f.WriteAt([]byte("x"), math.MaxInt64-1)
	for _, tc := range []struct {
		name      string
		err, want error
	}{
		{"WriteAt(-1)", e1, envelope.ErrInvalidOffset},
		{"ReadAt(-1)", e2, envelope.ErrInvalidOffset},
		{"Truncate(-1)", f.Truncate(-1), envelope.ErrInvalidOffset},
		{"WriteAt near MaxInt64", e3, envelope.ErrTooLarge},
		{"Truncate(MaxInt64)", f.Truncate(math.MaxInt64), envelope.ErrTooLarge},
	} {
		if !errors.Is(tc.err, tc.want) {
			t.Errorf("%s = %v, want %v", tc.name, tc.err, tc.want)
		}
	}
	if _, err := envelope.Create(bg, memfile.New([]byte("x")), kms, tc4k); !errors.Is(err, envelope.ErrNotEmpty) {
		t.Errorf("Create on non-empty: %v", err)
	}
	for _, c := range []int{0, 1000, 3 << 12, 2 << 20} {
		if _, err := envelope.Create(bg, &memfile.File{}, kms, c); !errors.Is(err, envelope.ErrBadChunkSize) {
			t.Errorf("Create with chunk size %d: %v", c, err)
		}
		if _, err := envelope.Open(bg, &memfile.File{}, kms, c); !errors.Is(err, envelope.ErrBadChunkSize) {
			t.Errorf("Open with chunk size %d: %v", c, err)
		}
	}
}

// TestPreallocate: every chunk write lands in a range preallocated before
// any byte of the request was written, and a failed preallocation (full
// disk) fails the write with the ciphertext untouched.
func TestPreallocate(t *testing.T) {
	kms := newKMS(t, 1)
	var mu sync.Mutex
	var reserved [][2]int64
	b := &memfile.Prealloc{File: &memfile.File{}}
	b.Fn = func(off, n int64) error {
		mu.Lock()
		defer mu.Unlock()
		reserved = append(reserved, [2]int64{off, off + n})
		return nil
	}
	b.FailWrite = func(p []byte, off int64) error {
		if off < envelope.HeaderSize {
			return nil
		}
		mu.Lock()
		defer mu.Unlock()
		for _, r := range reserved {
			if off >= r[0] && off+int64(len(p)) <= r[1] {
				return nil
			}
		}
		t.Errorf("write of %d bytes at %d was not preallocated (%v)", len(p), off, reserved)
		return nil
	}
	f, err := envelope.Create(bg, b, kms, tc4k)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []struct{ off, n int64 }{{0, 3 * tc4k}, {100, 50}, {10 * tc4k, 7}, {5*tc4k + 3, 2 * tc4k}} {
		if _, err := f.WriteAt(pattern(int(w.n), "p"), w.off); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Truncate(20*tc4k + 1); err != nil {
		t.Fatal(err)
	}
	before := b.Bytes()
	b.Fn = func(off, n int64) error { return syscall.ENOSPC }
	if _, err := f.WriteAt(pattern(3*tc4k, "q"), 2*tc4k+5); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("WriteAt on a full disk: %v, want ENOSPC", err)
	}
	if _, err := f.WriteAt(pattern(10, "q"), 40*tc4k); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("extending WriteAt on a full disk: %v, want ENOSPC", err)
	}
	mustEqual(t, "ciphertext after ENOSPC", b.Bytes(), before)
	if f.Size() != 20*tc4k+1 {
		t.Errorf("size changed after a failed write: %d", f.Size())
	}
	f.Close()
}

func TestVerifyListsChunks(t *testing.T) {
	kms := newKMS(t, 1)
	ct, _ := sample(t, kms, false)
	bad := flip(flip(ct, chunkOff(0)+50, 1), chunkOff(2)+50, 1)
	err := envelope.Verify(bg, memfile.New(bad), kms, false)
	var idx []int64
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var ce *envelope.ChunkError
		if errors.As(e, &ce) {
			idx = append(idx, ce.Index)
		}
	}
	if fmt.Sprint(idx) != "[0 2]" || !errors.Is(err, envelope.ErrUnauthenticated) {
		t.Errorf("Verify = %v (chunks %v), want chunks [0 2]", err, idx)
	}
	if err := envelope.Verify(bg, memfile.New(bad), kms, true); err != nil {
		t.Errorf("quick Verify checks the header only, got %v", err)
	}
	if err := envelope.Verify(bg, memfile.New(ct[:chunkOff(2)]), kms, true); !errors.Is(err, envelope.ErrTruncated) {
		t.Errorf("quick Verify of a truncated file: %v", err)
	}
}

// TestStreamWriterFloor: with a seekable target the stream commits its
// size in slot B; the streaming reader then detects a cut at a chunk
// boundary.
func TestStreamWriterFloor(t *testing.T) {
	kms := newKMS(t, 1)
	b := &memfile.File{}
	w, err := envelope.NewWriter(bg, b, kms, tc4k)
	if err != nil {
		t.Fatal(err)
	}
	plain := pattern(2*tc4k+7, "floor")
	if _, err := w.Write(plain); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("more")); !errors.Is(err, envelope.ErrClosed) {
		t.Errorf("Write after Close: %v", err)
	}
	h, err := envelope.ReadHeader(bg, b, kms)
	if err != nil || h.CommittedSize != int64(len(plain)) || h.Slot != 1 {
		t.Fatalf("header %+v, %v", h, err)
	}
	r, err := envelope.NewReader(bg, bytes.NewReader(b.Bytes()[:chunkOff(2)]), kms)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(r); !errors.Is(err, envelope.ErrTruncated) {
		t.Errorf("stream cut at a chunk boundary: %v, want ErrTruncated", err)
	}
}

type failWriter struct{ n int }

func (w *failWriter) Write(p []byte) (int, error) {
	if w.n == 0 {
		return 0, memfile.ErrInjected
	}
	w.n--
	return len(p), nil
}

func TestStreamWriterStickyError(t *testing.T) {
	kms := newKMS(t, 1)
	w, err := envelope.NewWriter(bg, &failWriter{n: 1}, kms, tc4k)
	if err != nil {
		t.Fatal(err)
	}
	big := make([]byte, 20*tc4k)
	if _, err := w.Write(big); !errors.Is(err, memfile.ErrInjected) {
		t.Fatalf("first failing Write: %v", err)
	}
	if _, err := w.Write([]byte("x")); !errors.Is(err, memfile.ErrInjected) {
		t.Errorf("later Write: %v, want the sticky error", err)
	}
	if err := w.Close(); !errors.Is(err, memfile.ErrInjected) {
		t.Errorf("Close: %v, want the sticky error", err)
	}
	if _, err := envelope.NewWriter(bg, &failWriter{}, kms, tc4k); !errors.Is(err, memfile.ErrInjected) {
		t.Errorf("NewWriter with a failing header write: %v", err)
	}
}

func TestStreamHeaderOnly(t *testing.T) {
	kms := newKMS(t, 1)
	var buf bytes.Buffer
	w, _ := envelope.NewWriter(bg, &buf, kms, tc4k)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if buf.Len() != envelope.HeaderSize {
		t.Fatalf("empty stream is %d bytes, want %d", buf.Len(), envelope.HeaderSize)
	}
	for name, dec := range map[string]func([]byte) ([]byte, error){
		"file":   func(c []byte) ([]byte, error) { return decryptFile(kms, c) },
		"stream": func(c []byte) ([]byte, error) { return decryptStream(kms, c) },
	} {
		if got, err := dec(buf.Bytes()); err != nil || len(got) != 0 {
			t.Errorf("%s: %d bytes, %v", name, len(got), err)
		}
		if got, err := dec(nil); err != nil || len(got) != 0 {
			t.Errorf("%s of 0 bytes: %d bytes, %v", name, len(got), err)
		}
	}
}

// TestFlushCommitsFloor: Flush writes the grown size into the header
// without closing, and a second Flush (or Close) with no growth writes
// nothing, so a program's later utimens stays the last change.
func TestFlushCommitsFloor(t *testing.T) {
	kms := newKMS(t, 1)
	b := &memfile.File{}
	f, err := envelope.Create(bg, b, kms, tc4k)
	if err != nil {
		t.Fatal(err)
	}
	plain := pattern(tc4k+9, "flush")
	if _, err := f.WriteAt(plain, 0); err != nil {
		t.Fatal(err)
	}
	if err := f.Flush(); err != nil {
		t.Fatal(err)
	}
	h, err := envelope.ReadHeader(bg, b, kms)
	if err != nil || h.CommittedSize != int64(len(plain)) {
		t.Fatalf("after Flush: header %+v, %v", h, err)
	}
	before := bytes.Clone(b.Bytes())
	if err := f.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, b.Bytes()) {
		t.Error("Flush or Close without growth rewrote the file")
	}
	if err := f.Flush(); !errors.Is(err, envelope.ErrClosed) {
		t.Errorf("Flush after Close: %v, want ErrClosed", err)
	}
}

// TestShrinkOntoHole: truncating to a chunk boundary where the new last
// chunk is a hole seals it (FORMAT.md §6.3: the last chunk is never a
// hole), so the file still reads and verifies.
func TestShrinkOntoHole(t *testing.T) {
	kms := newKMS(t, 1)
	b := &memfile.File{}
	f, err := envelope.Create(bg, b, kms, tc4k)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []struct {
		s   string
		off int64
	}{{"a", 0}, {"b", 5 * tc4k}} {
		if _, err := f.WriteAt([]byte(w.s), w.off); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Truncate(3 * tc4k); err != nil {
		t.Fatal(err)
	}
	want := make([]byte, 3*tc4k)
	want[0] = 'a'
	mustEqual(t, "after the shrink", readAll(t, f), want)
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := envelope.Verify(bg, b, kms, false); err != nil {
		t.Errorf("Verify: %v", err)
	}
}
