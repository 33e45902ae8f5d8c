package chunker

import (
	"fmt"
	"math"
)

// Span is the set of chunks touched by a plaintext range [Off, Off+Len).
// An empty range (Len == 0) touches no chunk: Count() is 0.
type Span struct {
	Off, Len    int64 // the plaintext range
	First, Last int64 // first and last chunk index touched, inclusive
	chunkSize   int64
}

// Piece is the part of a Span that falls in one chunk.
type Piece struct {
	Index  int64 // chunk index
	Lo, Hi int   // the range within the chunk's plaintext, [Lo, Hi)
	BufOff int64 // offset of chunk byte Lo within the request, i.e. from Off
}

// Full reports whether the piece covers all n plaintext bytes of its chunk.
func (p Piece) Full(n int) bool { return p.Lo == 0 && p.Hi == n }

// Span returns the chunks touched by [off, off+n). It fails with
// ErrOutOfRange if off or n is negative or off+n exceeds MaxPlainSize.
func (l Layout) Span(off, n int64) (Span, error) {
	if off < 0 || n < 0 || off > math.MaxInt64-n || off+n > l.MaxPlainSize() {
		return Span{}, fmt.Errorf("%w: range [%d, +%d)", ErrOutOfRange, off, n)
	}
	c := int64(l.ChunkSize)
	s := Span{Off: off, Len: n, First: off / c, Last: off/c - 1, chunkSize: c}
	if n > 0 {
		s.Last = (off + n - 1) / c
	}
	return s, nil
}

// Count is the number of chunks in the span.
func (s Span) Count() int64 { return s.Last - s.First + 1 }

// Piece returns the part of the span in its k-th chunk (chunk First+k).
func (s Span) Piece(k int64) Piece {
	i := s.First + k
	start := i * s.chunkSize
	lo := max(s.Off-start, 0)
	hi := min(s.Off+s.Len-start, s.chunkSize)
	return Piece{Index: i, Lo: int(lo), Hi: int(hi), BufOff: start + lo - s.Off}
}
