package chunker

import (
	"errors"
	"fmt"
	"math"
)

// Sentinel errors.
var (
	// ErrOutOfRange reports an offset, length or size that is negative or
	// whose chunk arithmetic would overflow int64.
	ErrOutOfRange = errors.New("chunker: offset out of range")
	// ErrLayout reports a Layout with a non-positive chunk size, or a
	// negative header size or overhead.
	ErrLayout = errors.New("chunker: invalid layout")
)

// Layout is the geometry of one ciphertext file: a header of HeaderSize
// bytes, then chunks that each hold ChunkSize plaintext bytes and take
// ChunkSize+Overhead bytes on disk (the last chunk may be shorter).
type Layout struct {
	HeaderSize int64 // bytes before chunk 0
	ChunkSize  int   // plaintext bytes per full chunk
	Overhead   int   // ciphertext bytes added to every chunk (nonce, tag)
}

// NewLayout returns a validated Layout.
func NewLayout(headerSize int64, chunkSize, overhead int) (Layout, error) {
	l := Layout{HeaderSize: headerSize, ChunkSize: chunkSize, Overhead: overhead}
	if err := l.Validate(); err != nil {
		return Layout{}, err
	}
	return l, nil
}

// Validate reports whether l can be used for arithmetic.
func (l Layout) Validate() error {
	if l.ChunkSize <= 0 || l.Overhead < 0 || l.HeaderSize < 0 {
		return fmt.Errorf("%w: header %d, chunk %d, overhead %d", ErrLayout, l.HeaderSize, l.ChunkSize, l.Overhead)
	}
	if int64(l.ChunkSize) > math.MaxInt64-int64(l.Overhead)-l.HeaderSize {
		return fmt.Errorf("%w: chunk size %d too large", ErrLayout, l.ChunkSize)
	}
	return nil
}

// StoredChunkSize is the on-disk size of a full chunk: ChunkSize+Overhead.
func (l Layout) StoredChunkSize() int64 { return int64(l.ChunkSize) + int64(l.Overhead) }

// MaxChunks is the number of full chunks whose ciphertext fits in an int64
// file size.
func (l Layout) MaxChunks() int64 {
	return (math.MaxInt64 - l.HeaderSize) / l.StoredChunkSize()
}

// MaxPlainSize is the largest plaintext size this package accepts: a whole
// number of full chunks that fits in an int64 ciphertext size. Anything
// larger would make some ciphertext offset overflow.
func (l Layout) MaxPlainSize() int64 { return l.MaxChunks() * int64(l.ChunkSize) }

// ChunkOffset returns the ciphertext offset of chunk i.
func (l Layout) ChunkOffset(i int64) (int64, error) {
	if i < 0 || i > l.MaxChunks() {
		return 0, fmt.Errorf("%w: chunk index %d", ErrOutOfRange, i)
	}
	return l.HeaderSize + i*l.StoredChunkSize(), nil
}

// ChunkLen returns how many plaintext bytes chunk i holds in a file of
// plainSize bytes: ChunkSize for inner chunks, the remainder for the last
// chunk, 0 for chunks at or past the end. It assumes plainSize <=
// MaxPlainSize.
func (l Layout) ChunkLen(i, plainSize int64) int {
	c := int64(l.ChunkSize)
	if i < 0 || i >= l.NumChunks(plainSize) {
		return 0
	}
	if rest := plainSize - i*c; rest < c {
		return int(rest)
	}
	return l.ChunkSize
}

// NumChunks returns the number of chunks of a file of plainSize bytes
// (ceil(plainSize/ChunkSize)); 0 for an empty or negative size.
func (l Layout) NumChunks(plainSize int64) int64 {
	if plainSize <= 0 {
		return 0
	}
	c := int64(l.ChunkSize)
	return plainSize/c + min(plainSize%c, 1)
}

// CipherSize returns the ciphertext size of a file holding plainSize bytes,
// header included. Size 0 maps to HeaderSize; callers that store empty
// files without a header special-case it.
func (l Layout) CipherSize(plainSize int64) (int64, error) {
	if plainSize < 0 || plainSize > l.MaxPlainSize() {
		return 0, fmt.Errorf("%w: plaintext size %d", ErrOutOfRange, plainSize)
	}
	n := l.NumChunks(plainSize)
	return l.HeaderSize + plainSize + n*int64(l.Overhead), nil
}

// PlainSize inverts CipherSize for cipherSize >= HeaderSize. If the body
// ends in a fragment of at most Overhead bytes (a chunk that cannot hold
// even one plaintext byte) PlainSize ignores the fragment and reports
// torn = true; the caller decides whether that is an error.
func (l Layout) PlainSize(cipherSize int64) (plain int64, torn bool, err error) {
	if cipherSize < l.HeaderSize {
		return 0, false, fmt.Errorf("%w: ciphertext size %d below header size %d", ErrOutOfRange, cipherSize, l.HeaderSize)
	}
	body := cipherSize - l.HeaderSize
	n, r := body/l.StoredChunkSize(), body%l.StoredChunkSize()
	plain = n * int64(l.ChunkSize)
	if r == 0 {
		return plain, false, nil
	}
	if r <= int64(l.Overhead) {
		return plain, true, nil
	}
	return plain + r - int64(l.Overhead), false, nil
}
