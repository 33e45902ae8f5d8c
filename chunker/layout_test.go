package chunker_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync/atomic"
	"testing"

	"github.com/kmsfs/kmsfs/chunker"
)

const (
	testHeader   = 544
	testOverhead = 28
)

func layout(t testing.TB, c int) chunker.Layout {
	t.Helper()
	l, err := chunker.NewLayout(testHeader, c, testOverhead)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestNewLayoutRejects(t *testing.T) {
	for _, tc := range []struct {
		header   int64
		c, overh int
	}{
		{544, 0, 28}, {544, -1, 28}, {-1, 4096, 28}, {544, 4096, -1},
		{math.MaxInt64 - 10, 4096, 28},
	} {
		if _, err := chunker.NewLayout(tc.header, tc.c, tc.overh); !errors.Is(err, chunker.ErrLayout) {
			t.Errorf("NewLayout(%d, %d, %d) = %v, want ErrLayout", tc.header, tc.c, tc.overh, err)
		}
	}
}

func TestSpan(t *testing.T) {
	const c = 4096
	l := layout(t, c)
	for _, tc := range []struct {
		off, n      int64
		first, last int64
		pieces      []chunker.Piece
	}{
		{0, 0, 0, -1, nil},
		{0, 1, 0, 0, []chunker.Piece{{0, 0, 1, 0}}},
		{0, c - 1, 0, 0, []chunker.Piece{{0, 0, c - 1, 0}}},
		{0, c, 0, 0, []chunker.Piece{{0, 0, c, 0}}},
		{0, c + 1, 0, 1, []chunker.Piece{{0, 0, c, 0}, {1, 0, 1, c}}},
		{c - 1, 2, 0, 1, []chunker.Piece{{0, c - 1, c, 0}, {1, 0, 1, 1}}},
		{c, c, 1, 1, []chunker.Piece{{1, 0, c, 0}}},
		{500, 2*c + 500, 0, 2, []chunker.Piece{{0, 500, c, 0}, {1, 0, c, c - 500}, {2, 0, 1000, 2*c - 500}}},
		{3*c + 7, 0, 3, 2, nil},
	} {
		t.Run(fmt.Sprintf("off=%d,n=%d", tc.off, tc.n), func(t *testing.T) {
			s, err := l.Span(tc.off, tc.n)
			if err != nil {
				t.Fatal(err)
			}
			if s.First != tc.first || s.Last != tc.last || s.Count() != int64(len(tc.pieces)) {
				t.Fatalf("span %d..%d (count %d), want %d..%d (count %d)", s.First, s.Last, s.Count(), tc.first, tc.last, len(tc.pieces))
			}
			for k, want := range tc.pieces {
				if got := s.Piece(int64(k)); got != want {
					t.Errorf("piece %d = %+v, want %+v", k, got, want)
				}
			}
		})
	}
}

func TestSpanOutOfRange(t *testing.T) {
	l := layout(t, 65536)
	for _, tc := range []struct{ off, n int64 }{
		{-1, 1}, {0, -1}, {math.MaxInt64, 1}, {1, math.MaxInt64}, {math.MaxInt64 - 5, 5},
		{l.MaxPlainSize(), 1}, {l.MaxPlainSize() - 1, 2},
	} {
		if _, err := l.Span(tc.off, tc.n); !errors.Is(err, chunker.ErrOutOfRange) {
			t.Errorf("Span(%d, %d) = %v, want ErrOutOfRange", tc.off, tc.n, err)
		}
	}
	if _, err := l.Span(l.MaxPlainSize()-1, 1); err != nil {
		t.Errorf("Span at the last byte: %v", err)
	}
}

func TestSizes(t *testing.T) {
	const c = 65536
	l := layout(t, c)
	for _, tc := range []struct {
		plain, cipher int64
		chunks        int64
		lastLen       int
	}{
		{0, testHeader, 0, 0},
		{1, testHeader + 1 + 28, 1, 1},
		{c - 1, testHeader + c - 1 + 28, 1, c - 1},
		{c, testHeader + c + 28, 1, c},
		{c + 1, testHeader + c + 28 + 1 + 28, 2, 1},
		{2*c + 500, testHeader + 2*(c+28) + 500 + 28, 3, 500},
		{1 << 40, testHeader + (1<<40)/c*(c+28), 1 << 24, c},
	} {
		t.Run(fmt.Sprint(tc.plain), func(t *testing.T) {
			got, err := l.CipherSize(tc.plain)
			if err != nil || got != tc.cipher {
				t.Fatalf("CipherSize = %d, %v; want %d", got, err, tc.cipher)
			}
			back, torn, err := l.PlainSize(tc.cipher)
			if err != nil || torn || back != tc.plain {
				t.Fatalf("PlainSize(%d) = %d, %v, %v; want %d", tc.cipher, back, torn, err, tc.plain)
			}
			if n := l.NumChunks(tc.plain); n != tc.chunks {
				t.Errorf("NumChunks = %d, want %d", n, tc.chunks)
			}
			if tc.chunks > 0 {
				if n := l.ChunkLen(tc.chunks-1, tc.plain); n != tc.lastLen {
					t.Errorf("last ChunkLen = %d, want %d", n, tc.lastLen)
				}
				if n := l.ChunkLen(tc.chunks, tc.plain); n != 0 {
					t.Errorf("ChunkLen past end = %d, want 0", n)
				}
			}
		})
	}
}

func TestPlainSizeTorn(t *testing.T) {
	const c = 4096
	l := layout(t, c)
	for r := int64(1); r <= testOverhead; r++ {
		p, torn, err := l.PlainSize(testHeader + (c + testOverhead) + r)
		if err != nil || !torn || p != c {
			t.Errorf("r=%d: PlainSize = %d, torn=%v, %v; want %d, torn", r, p, torn, err, c)
		}
	}
	if p, torn, _ := l.PlainSize(testHeader + testOverhead + 1); torn || p != 1 {
		t.Errorf("29-byte body: %d, torn=%v; want 1, not torn", p, torn)
	}
	if _, _, err := l.PlainSize(testHeader - 1); !errors.Is(err, chunker.ErrOutOfRange) {
		t.Errorf("below header: %v, want ErrOutOfRange", err)
	}
}

func TestOverflow(t *testing.T) {
	for _, c := range []int{4096, 65536, 1 << 20} {
		l := layout(t, c)
		max := l.MaxPlainSize()
		cs, err := l.CipherSize(max)
		if err != nil || cs < 0 {
			t.Fatalf("c=%d: CipherSize(max=%d) = %d, %v", c, max, cs, err)
		}
		if _, err := l.CipherSize(max + 1); !errors.Is(err, chunker.ErrOutOfRange) {
			t.Errorf("c=%d: CipherSize(max+1) = %v, want ErrOutOfRange", c, err)
		}
		if _, err := l.CipherSize(math.MaxInt64); !errors.Is(err, chunker.ErrOutOfRange) {
			t.Errorf("c=%d: CipherSize(MaxInt64) = %v", c, err)
		}
		if _, err := l.ChunkOffset(l.MaxChunks() + 1); !errors.Is(err, chunker.ErrOutOfRange) {
			t.Errorf("c=%d: ChunkOffset past max = %v", c, err)
		}
		if _, err := l.ChunkOffset(-1); !errors.Is(err, chunker.ErrOutOfRange) {
			t.Errorf("c=%d: ChunkOffset(-1) = %v", c, err)
		}
		off, err := l.ChunkOffset(l.MaxChunks() - 1)
		if err != nil || off <= 0 || off > math.MaxInt64-l.StoredChunkSize() {
			t.Errorf("c=%d: last ChunkOffset = %d, %v", c, off, err)
		}
		if p, _, err := l.PlainSize(math.MaxInt64); err != nil || p > max+int64(c) {
			t.Errorf("c=%d: PlainSize(MaxInt64) = %d, %v", c, p, err)
		}
	}
}

func TestPipeline(t *testing.T) {
	for _, workers := range []int{1, 2, 8} {
		for _, n := range []int{0, 1, 2, 100} {
			for _, group := range []int{0, 1, 3, 16, 200} {
				t.Run(fmt.Sprintf("workers=%d,n=%d,group=%d", workers, n, group), func(t *testing.T) {
					p := chunker.NewPipeline(workers)
					hits := make([]atomic.Int32, n)
					err := p.RunGrouped(context.Background(), n, group, func(k int) error {
						hits[k].Add(1)
						return nil
					})
					if err != nil {
						t.Fatal(err)
					}
					for k := range hits {
						if h := hits[k].Load(); h != 1 {
							t.Errorf("job %d ran %d times", k, h)
						}
					}
				})
			}
		}
	}
}

func TestPipelineFirstErrorStops(t *testing.T) {
	boom := errors.New("boom")
	for _, workers := range []int{1, 4} {
		var ran atomic.Int32
		err := chunker.NewPipeline(workers).Run(context.Background(), 10000, func(k int) error {
			ran.Add(1)
			if k == 3 {
				return fmt.Errorf("job %d: %w", k, boom)
			}
			return nil
		})
		if !errors.Is(err, boom) {
			t.Errorf("workers=%d: err = %v, want boom", workers, err)
		}
		if r := ran.Load(); r >= 10000 {
			t.Errorf("workers=%d: all %d jobs ran after an error", workers, r)
		}
	}
}

func TestPipelineContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var ran atomic.Int32
	err := chunker.NewPipeline(4).Run(ctx, 100, func(int) error { ran.Add(1); return nil })
	if !errors.Is(err, context.Canceled) || ran.Load() != 0 {
		t.Errorf("canceled run: err %v, %d jobs ran", err, ran.Load())
	}
}

func TestBufferPool(t *testing.T) {
	p := chunker.NewBufferPool(100)
	b := p.Get()
	if len(*b) != 100 {
		t.Fatalf("len %d", len(*b))
	}
	*b = (*b)[:3]
	p.Put(b)
	if c := p.Get(); len(*c) != 100 {
		t.Errorf("recycled buffer has len %d, want 100", len(*c))
	}
	p.Put(nil) // must not panic
}

func BenchmarkSpan(b *testing.B) {
	l := layout(b, 65536)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		s, err := l.Span(int64(i)*1000, 1<<20)
		if err != nil {
			b.Fatal(err)
		}
		for k := range s.Count() {
			_ = s.Piece(k)
		}
	}
}

// TestPipelineAllocs checks that a parallel run allocates per run, not per
// job (a job's error variable once escaped to the heap): 2 jobs one per
// task, and 256 jobs in tasks of 4, both on two workers.
func TestPipelineAllocs(t *testing.T) {
	p := chunker.NewPipeline(2)
	for _, c := range []struct{ n, group int }{{2, 1}, {256, 4}} {
		n := c.n
		allocs := testing.AllocsPerRun(50, func() {
			if err := p.RunGrouped(context.Background(), n, c.group, func(int) error { return nil }); err != nil {
				t.Fatal(err)
			}
		})
		if allocs > 4 {
			t.Errorf("run of %d jobs: %.1f allocations, want at most 4", n, allocs)
		}
	}
}

func BenchmarkPipeline(b *testing.B) {
	p := chunker.NewPipeline(0)
	b.ReportAllocs()
	for b.Loop() {
		if err := p.Run(context.Background(), 16, func(int) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
}
