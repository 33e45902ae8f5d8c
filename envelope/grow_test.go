package envelope_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"syscall"
	"testing"

	"github.com/kmsfs/kmsfs/envelope"
	"github.com/kmsfs/kmsfs/internal/memfile"
)

// shortWriteFile fails chunk write number failAt (counting from 1) after
// writing only its first keep bytes, as a disk that fills up in the middle
// of a write does (EDQUOT, no fallocate).
type shortWriteFile struct {
	*memfile.File
	failAt, keep, writes int
}

func (s *shortWriteFile) WriteAt(p []byte, off int64) (int, error) {
	if off < envelope.HeaderSize {
		return s.File.WriteAt(p, off)
	}
	s.writes++
	if s.writes != s.failAt {
		return s.File.WriteAt(p, off)
	}
	n, _ := s.File.WriteAt(p[:min(s.keep, len(p))], off)
	return n, syscall.EDQUOT
}

// growOp is a size-changing operation and its effect on the plaintext.
type growOp struct {
	name  string
	do    func(f *envelope.File, old int64) error
	model func(want []byte, old int64) []byte
}

func growOps() []growOp {
	data := pattern(3*tc4k, "grow")
	return []growOp{
		{"append 3C",
			func(f *envelope.File, old int64) error { _, err := f.WriteAt(data, old); return err },
			func(w []byte, old int64) []byte { return append(w, data...) }},
		{"write past the end",
			func(f *envelope.File, old int64) error { _, err := f.WriteAt(data[:100], old+2*tc4k+5); return err },
			func(w []byte, old int64) []byte { return append(append(w, make([]byte, 2*tc4k+5)...), data[:100]...) }},
		{"rewrite the tail and extend",
			func(f *envelope.File, old int64) error { _, err := f.WriteAt(data[:tc4k], max(old-500, 0)); return err },
			func(w []byte, old int64) []byte { return append(w[:max(old-500, 0)], data[:tc4k]...) }},
		{"truncate up",
			func(f *envelope.File, old int64) error { return f.Truncate(old + 3*tc4k) },
			func(w []byte, old int64) []byte { return append(w, make([]byte, 3*tc4k)...) }},
	}
}

// TestFailedGrowRestoresSize: a size-extending write or truncate whose
// chunk writes fail part way (nothing, a torn fragment, or half a chunk
// written) leaves the file at its old size, ciphertext included; reads,
// a retried operation, a reopen and Verify then all work. Like any failed
// write, it may have changed whole chunks of its range inside the old
// size, and nothing else.
func TestFailedGrowRestoresSize(t *testing.T) {
	kms := newKMS(t, 1)
	for _, old := range []int64{0, 2 * tc4k, 2*tc4k + 1000} {
		base := &memfile.File{}
		f, err := envelope.Create(bg, base, kms, tc4k)
		if err != nil {
			t.Fatal(err)
		}
		plain := pattern(int(old), "old")
		if _, err := f.WriteAt(plain, 0); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		for _, op := range growOps() {
			// A successful run counts the chunk writes to fail.
			count := &shortWriteFile{File: memfile.New(base.Bytes())}
			g, err := envelope.OpenWith(bg, count, kms, tc4k, rand.Reader, 1)
			if err != nil {
				t.Fatal(err)
			}
			if err := op.do(g, old); err != nil {
				t.Fatal(err)
			}
			for failAt := 1; failAt <= count.writes; failAt++ {
				for _, keep := range []int{0, 13, tc4k / 2} {
					t.Run(fmt.Sprintf("old=%d,%s,fail=%d,keep=%d", old, op.name, failAt, keep), func(t *testing.T) {
						checkFailedGrow(t, base.Bytes(), plain, op, &shortWriteFile{File: memfile.New(base.Bytes()), failAt: failAt, keep: keep})
					})
				}
			}
		}
	}
}

func checkFailedGrow(t *testing.T, ct, plain []byte, op growOp, b *shortWriteFile) {
	kms := newKMS(t, 1)
	old := int64(len(plain))
	f, err := envelope.OpenWith(bg, b, kms, tc4k, rand.Reader, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := op.do(f, old); !errors.Is(err, syscall.EDQUOT) {
		t.Fatalf("failing op: %v, want EDQUOT", err)
	}
	if got, want := len(b.Bytes()), len(ct); f.Size() != old || got != want {
		t.Fatalf("after the failure: size %d, %d ciphertext bytes; want %d, %d", f.Size(), got, old, want)
	}
	want := op.model(append([]byte(nil), plain...), old)
	got := readAll(t, f)
	for c := 0; c < len(got); c += tc4k {
		e := min(c+tc4k, len(got))
		if !bytes.Equal(got[c:e], plain[c:e]) && !bytes.Equal(got[c:e], want[c:e]) {
			t.Fatalf("after the failure: chunk %d is neither old nor new", c/tc4k)
		}
	}
	b.failAt = 0
	if err := op.do(f, old); err != nil {
		t.Fatalf("retry: %v", err)
	}
	mustEqual(t, "after the retry", readAll(t, f), want)
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := envelope.Verify(bg, b.File, kms, false); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	g, err := envelope.Open(bg, b.File, kms, tc4k)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	mustEqual(t, "reopened", readAll(t, g), want)
}
