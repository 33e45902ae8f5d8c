package envelope_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/kmsfs/kmsfs/envelope"
	"github.com/kmsfs/kmsfs/internal/memfile"
	"github.com/kmsfs/kmsfs/internal/testkms"
)

// shortCase is a ciphertext file that is short (FORMAT.md §8), the
// plaintext it held before it was cut, and how much of it is present.
type shortCase struct {
	name    string
	ct      []byte
	plain   []byte // the whole plaintext before the cut
	present int64
}

func shortCases(t *testing.T, kms *testkms.Service) []shortCase {
	ct, plain := sample(t, kms, false)    // 3C+1000 bytes, floor 3C+1000
	aligned := pattern(3*tc4k, "aligned") // floor 3C
	alignedCT := writeClosed(t, kms, map[int64][]byte{0: aligned})
	sparse := make([]byte, 5*tc4k+1) // chunks 1-4 are holes
	sparse[0], sparse[5*tc4k] = 'a', 'b'
	sparseCT := writeClosed(t, kms, map[int64][]byte{0: sparse[:1], 5 * tc4k: sparse[5*tc4k:]})
	cut := func(ct []byte, n int, tail ...byte) []byte { return append(bytes.Clone(ct[:n]), tail...) }
	return []shortCase{
		{"below the floor at a chunk boundary", cut(ct, chunkOff(3)), plain, 3 * tc4k},
		{"torn fragment", cut(alignedCT, len(alignedCT), pattern(13, "fragment")...), aligned, 3 * tc4k},
		{"both", cut(ct, chunkOff(2), ct[chunkOff(2):chunkOff(2)+20]...), plain, 2 * tc4k},
		{"header only, below the floor", cut(ct, envelope.HeaderSize), plain, 0},
		{"a hole at the cut", cut(sparseCT, chunkOff(3)), sparse, 3 * tc4k},
	}
}

// writeClosed returns the ciphertext of a new file after the given writes
// (offset -> data) and Close, which commits the floor.
func writeClosed(t *testing.T, kms *testkms.Service, writes map[int64][]byte) []byte {
	t.Helper()
	b := &memfile.File{}
	f, err := envelope.Create(bg, b, kms, tc4k)
	if err != nil {
		t.Fatal(err)
	}
	for off, p := range writes {
		if _, err := f.WriteAt(p, off); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestShortFileReads: a short file opens; what is present reads; a read
// reaching its end fails with ErrTruncated instead of io.EOF; Verify
// still reports it; and reading, Sync and Close change nothing on disk.
func TestShortFileReads(t *testing.T) {
	kms := newKMS(t, 1)
	for _, tc := range shortCases(t, kms) {
		t.Run(tc.name, func(t *testing.T) {
			b := memfile.New(tc.ct)
			f, err := envelope.Open(bg, b, kms, tc4k)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if f.Size() != tc.present || !errors.Is(f.Truncation(), envelope.ErrTruncated) {
				t.Fatalf("Size %d, Truncation %v; want %d, ErrTruncated", f.Size(), f.Truncation(), tc.present)
			}
			mustEqual(t, "present data", readAll(t, f), tc.plain[:tc.present])
			for _, off := range []int64{max(tc.present-5, 0), tc.present, tc.present + 100} {
				p := make([]byte, 10)
				n, err := f.ReadAt(p, off)
				if !errors.Is(err, envelope.ErrTruncated) || int64(n) != max(tc.present-off, 0) {
					t.Errorf("ReadAt(10, %d) = %d, %v; want %d, ErrTruncated", off, n, err, max(tc.present-off, 0))
				}
				mustEqual(t, fmt.Sprintf("ReadAt(10, %d)", off), p[:n], tc.plain[min(off, tc.present):][:n])
			}
			if err := envelope.Verify(bg, b, kms, false); !errors.Is(err, envelope.ErrTruncated) {
				t.Errorf("Verify = %v, want ErrTruncated", err)
			}
			for i, op := range []func() error{f.Sync, f.Flush, f.Close} {
				if err := op(); err != nil {
					t.Errorf("Sync, Flush, Close [%d]: %v", i, err)
				}
			}
			mustEqual(t, "ciphertext after Close", b.Bytes(), tc.ct)
		})
	}
}

// shortOp changes a short file, and says what its plaintext is then.
type shortOp struct {
	name    string
	settles bool
	do      func(f *envelope.File, present int64) error
	model   func(have []byte) []byte
}

func shortOps() []shortOp {
	extra := pattern(tc4k+300, "extra")
	return []shortOp{
		{"truncate to the present size", true,
			func(f *envelope.File, n int64) error { return f.Truncate(n) },
			func(h []byte) []byte { return h }},
		{"append", true,
			func(f *envelope.File, n int64) error { _, err := f.WriteAt(extra, n); return err },
			func(h []byte) []byte { return append(h, extra...) }},
		{"write past the end", true,
			func(f *envelope.File, n int64) error { _, err := f.WriteAt(extra, n+tc4k+3); return err },
			func(h []byte) []byte { return append(append(h, make([]byte, tc4k+3)...), extra...) }},
		{"truncate up", true,
			func(f *envelope.File, n int64) error { return f.Truncate(n + 5000) },
			func(h []byte) []byte { return append(h, make([]byte, 5000)...) }},
		{"truncate down", true,
			func(f *envelope.File, n int64) error { return f.Truncate(n / 3) },
			func(h []byte) []byte { return h[:len(h)/3] }},
		{"write inside", false,
			func(f *envelope.File, n int64) error { _, err := f.WriteAt(extra[:min(n, 10)], 0); return err },
			func(h []byte) []byte { copy(h, extra[:min(len(h), 10)]); return h }},
	}
}

// TestShortFileWrites: a write past the end or a Truncate settles a short
// file (FORMAT.md §8: floor lowered to the present size, fragment cut,
// then the operation), after which it verifies and reopens whole; a write
// inside the present data leaves it short.
func TestShortFileWrites(t *testing.T) {
	kms := newKMS(t, 1)
	for _, tc := range shortCases(t, kms) {
		for _, op := range shortOps() {
			t.Run(tc.name+"/"+op.name, func(t *testing.T) {
				b := memfile.New(tc.ct)
				f, err := envelope.Open(bg, b, kms, tc4k)
				if err != nil {
					t.Fatal(err)
				}
				if err := op.do(f, tc.present); err != nil {
					t.Fatal(err)
				}
				want := op.model(bytes.Clone(tc.plain[:tc.present]))
				if settled := f.Truncation() == nil; settled != op.settles {
					t.Fatalf("settled %v, want %v (%v)", settled, op.settles, f.Truncation())
				}
				if got := readAll(t, f); !bytes.Equal(got, want) {
					mustEqual(t, "after the operation", got, want)
				}
				if err := f.Close(); err != nil {
					t.Fatal(err)
				}
				checkReopened(t, kms, b, want, op.settles)
			})
		}
	}
}

// checkReopened verifies the file in b and reads it back.
func checkReopened(t *testing.T, kms *testkms.Service, b *memfile.File, want []byte, whole bool) {
	t.Helper()
	if err := envelope.Verify(bg, b, kms, false); (err == nil) != whole || (!whole && !errors.Is(err, envelope.ErrTruncated)) {
		t.Errorf("Verify after Close = %v, want whole %v", err, whole)
	}
	g, err := envelope.Open(bg, b, kms, tc4k)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if (g.Truncation() == nil) != whole {
		t.Errorf("reopened: Truncation %v, want whole %v", g.Truncation(), whole)
	}
	out := make([]byte, len(want)+1)
	n, err := g.ReadAt(out, 0)
	if whole && err != io.EOF || !whole && !errors.Is(err, envelope.ErrTruncated) {
		t.Errorf("reopened: read to the end: %v", err)
	}
	mustEqual(t, "reopened", out[:n], want)
}

// TestShortFileCutInsideAChunk: when the cut falls inside a chunk, that
// chunk cannot authenticate; a read that reaches the end reports both,
// and returns no bytes, while the chunks before it still read.
func TestShortFileCutInsideAChunk(t *testing.T) {
	kms := newKMS(t, 1)
	ct, plain := sample(t, kms, false)
	f, err := envelope.Open(bg, memfile.New(ct[:len(ct)-100]), kms, tc4k)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p := make([]byte, f.Size()+1)
	n, err := f.ReadAt(p, 0)
	if n != 0 || !errors.Is(err, envelope.ErrTruncated) || !errors.Is(err, envelope.ErrUnauthenticated) {
		t.Errorf("ReadAt to the end = %d, %v; want 0, ErrTruncated and ErrUnauthenticated", n, err)
	}
	if n, err := f.ReadAt(p[:3*tc4k], 0); n != 3*tc4k || err != nil {
		t.Fatalf("ReadAt of the whole chunks = %d, %v", n, err)
	}
	mustEqual(t, "whole chunks", p[:3*tc4k], plain[:3*tc4k])
	// Settling keeps the damaged chunk as it is (Verify reports it); a
	// truncate to the whole chunks before it drops it.
	if err := f.Truncate(f.Size()); err != nil || f.Truncation() != nil {
		t.Fatalf("Truncate to the present size: %v, still short: %v", err, f.Truncation())
	}
	if _, err := f.ReadAt(p, 0); !errors.Is(err, envelope.ErrUnauthenticated) {
		t.Errorf("read after settling: %v, want ErrUnauthenticated", err)
	}
	if err := f.Truncate(3 * tc4k); err != nil {
		t.Fatal(err)
	}
	mustEqual(t, "after the truncate", readAll(t, f), plain[:3*tc4k])
}
