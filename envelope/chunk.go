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

// sealChunk encrypts chunk i in place: buf[NonceSize:NonceSize+n] holds the
// plaintext on entry; on return buf[:n+ChunkOverhead] is the stored chunk,
// under a fresh nonce (FORMAT.md, "Nonces").
func (k *fileKeys) sealChunk(buf []byte, n int, fileID *[FileIDSize]byte, i int64, rand io.Reader) ([]byte, error) {
	if n <= 0 || len(buf) < n+ChunkOverhead {
		panic(fmt.Sprintf("envelope: internal error: sealing %d bytes in a %d-byte buffer", n, len(buf)))
	}
	s := chunkScratchPool.Get().(*chunkScratch)
	defer chunkScratchPool.Put(s)
	return k.sealIn(buf, n, s, s.chunkAAD(fileID, i), rand)
}

// sealIn seals buf[NonceSize:NonceSize+n] in place under a fresh nonce
// drawn into s and the given AAD; the file and stream chunk seals differ
// only in their AAD and their size checks.
func (k *fileKeys) sealIn(buf []byte, n int, s *chunkScratch, aad []byte, rand io.Reader) ([]byte, error) {
	nonce := s.nonce[:]
	if err := freshNonce(rand, nonce); err != nil {
		return nil, err
	}
	copy(buf, nonce)
	k.aead.Seal(buf[NonceSize:NonceSize], nonce, buf[NonceSize:NonceSize+n], aad)
	return buf[:n+ChunkOverhead], nil
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
