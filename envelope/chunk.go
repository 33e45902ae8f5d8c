package envelope

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
)

// Chunk layout (FORMAT.md, "Chunks"):
//
//	nonce [12] | AES-256-GCM(K_chunk, nonce, plaintext, aad) ciphertext | tag [16]
//	aad = file ID [16] | chunk index u64

// errZeroNonce reports a random source that keeps returning zero nonces.
var errZeroNonce = errors.New("envelope: random source returned only zero nonces")

// chunkScratch holds a chunk seal's fresh nonce and a seal's or open's
// AAD. Both are passed through interfaces (io.Reader, cipher.AEAD), so
// arrays on the stack would escape and cost two heap allocations per
// chunk; pooled, they cost none. The AAD has room for a stream chunk's
// final flag (streamfinal.go).
type chunkScratch struct {
	nonce [NonceSize]byte
	aad   [FileIDSize + 9]byte
}

var chunkScratchPool = sync.Pool{New: func() any { return new(chunkScratch) }}

// chunkAAD writes into s and returns the AAD that binds a chunk to its
// file and position (FORMAT.md, "Chunks"): file ID [16] | chunk index u64.
func (s *chunkScratch) chunkAAD(fileID *[FileIDSize]byte, i int64) []byte {
	copy(s.aad[:], fileID[:])
	binary.BigEndian.PutUint64(s.aad[FileIDSize:], uint64(i))
	return s.aad[:FileIDSize+8]
}

// freshNonce fills dst with random bytes that are not all zero. Writers
// MUST NOT produce an all-zero nonce (FORMAT.md, "Holes"), because readers
// treat an all-zero full chunk as a hole.
func freshNonce(rand io.Reader, dst []byte) error {
	for range 4 {
		if _, err := io.ReadFull(rand, dst); err != nil {
			return fmt.Errorf("envelope: reading random nonce: %w", err)
		}
		if !isZero(dst) {
			return nil
		}
	}
	return errZeroNonce
}

// freshNonces fills dst, a whole number of nonces, with one random read
// and draws any all-zero nonce in it again on its own (see freshNonce).
// A request of many small chunks thus costs one read of the random
// source, not one per chunk (issue 10).
func freshNonces(rand io.Reader, dst []byte) error {
	if len(dst)%NonceSize != 0 {
		panic(fmt.Sprintf("envelope: internal error: %d bytes of nonces", len(dst)))
	}
	if _, err := io.ReadFull(rand, dst); err != nil {
		return fmt.Errorf("envelope: reading random nonces: %w", err)
	}
	for o := 0; o < len(dst); o += NonceSize {
		if nonce := dst[o : o+NonceSize]; isZero(nonce) {
			if err := freshNonce(rand, nonce); err != nil {
				return err
			}
		}
	}
	return nil
}

// sealChunkFrom seals the plaintext pt as chunk i into buf and returns
// buf[:len(pt)+ChunkOverhead], the stored chunk. pt is either
// buf[NonceSize:NonceSize+len(pt)] (sealing in place) or disjoint from
// buf, so that a chunk a write covers whole is sealed straight from the
// caller's bytes. nonce is one the caller drew with freshNonces; if nil,
// a fresh one is drawn from rand (FORMAT.md, "Nonces").
func (k *fileKeys) sealChunkFrom(buf, pt []byte, fileID *[FileIDSize]byte, i int64, nonce []byte, rand io.Reader) ([]byte, error) {
	if len(pt) == 0 || len(buf) < len(pt)+ChunkOverhead {
		panic(fmt.Sprintf("envelope: internal error: sealing %d bytes in a %d-byte buffer", len(pt), len(buf)))
	}
	s := chunkScratchPool.Get().(*chunkScratch)
	defer chunkScratchPool.Put(s)
	if nonce == nil {
		nonce = s.nonce[:]
		if err := freshNonce(rand, nonce); err != nil {
			return nil, err
		}
	}
	return k.sealWith(buf, pt, nonce, s.chunkAAD(fileID, i)), nil
}

// sealWith writes nonce | AES-256-GCM(pt, aad) | tag into buf, where pt
// is buf[NonceSize:NonceSize+len(pt)] or disjoint from buf.
func (k *fileKeys) sealWith(buf, pt, nonce, aad []byte) []byte {
	copy(buf, nonce)
	k.aead.Seal(buf[NonceSize:NonceSize], buf[:NonceSize], pt, aad)
	return buf[:len(pt)+ChunkOverhead]
}

// openChunk authenticates and decrypts stored chunk i, appending the
// plaintext to dst, which must have room for it: either disjoint from
// stored, or exactly stored[NonceSize:NonceSize] to decrypt in place.
//
// If mayBeHole (a full-size chunk that is not the file's last) and the
// stored chunk is all zeros, it is a hole and reads as zeros without
// authentication (FORMAT.md, "Holes"). Any other all-zero nonce fails:
// writers never produce one. On failure the output is zeroed.
func (k *fileKeys) openChunk(dst, stored []byte, fileID *[FileIDSize]byte, i int64, mayBeHole bool) ([]byte, error) {
	n := len(stored) - ChunkOverhead
	if n <= 0 {
		return nil, &ChunkError{Index: i, Err: ErrTruncated}
	}
	if isZero(stored[:NonceSize]) {
		if mayBeHole && isZero(stored) {
			out := dst[:len(dst)+n]
			clear(out[len(dst):])
			return out, nil
		}
		return nil, &ChunkError{Index: i, Err: ErrUnauthenticated}
	}
	s := chunkScratchPool.Get().(*chunkScratch)
	defer chunkScratchPool.Put(s)
	// The nonce stays in stored: decrypting in place, the output starts
	// after it, so not even a failed Open, which zeroes its output,
	// touches it.
	out, err := k.aead.Open(dst, stored[:NonceSize], stored[NonceSize:], s.chunkAAD(fileID, i))
	if err != nil {
		return nil, &ChunkError{Index: i, Err: ErrUnauthenticated}
	}
	return out, nil
}
