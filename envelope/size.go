package envelope

import (
	"fmt"

	"github.com/kmsfs/kmsfs/chunker"
)

// layoutFor returns the chunk geometry for a validated chunk size.
func layoutFor(chunkSize int) chunker.Layout {
	l, err := chunker.NewLayout(HeaderSize, chunkSize, ChunkOverhead)
	if err != nil {
		panic("envelope: internal error: " + err.Error())
	}
	return l
}

// PlaintextSize returns the plaintext size of a ciphertext file of
// cipherSize bytes, from its size alone (FORMAT.md, "Sizes"), so that stat
// needs no decryption. chunkSize is the volume's chunk size.
//
// A file shorter than the header fails with ErrTruncated. A body ending in
// a fragment of at most ChunkOverhead bytes also fails with ErrTruncated,
// but the size of the whole chunks before it is returned with the error,
// for stat to report.
func PlaintextSize(cipherSize int64, chunkSize int) (int64, error) {
	if err := checkChunkSize(int64(chunkSize)); err != nil {
		return 0, err
	}
	switch {
	case cipherSize < 0:
		return 0, fmt.Errorf("%w: ciphertext size %d", ErrInvalidOffset, cipherSize)
	case cipherSize == 0:
		return 0, nil // FORMAT.md, "Empty files"
	case cipherSize < HeaderSize:
		return 0, fmt.Errorf("%w: %d-byte file is shorter than the %d-byte header", ErrTruncated, cipherSize, HeaderSize)
	}
	plain, torn, err := layoutFor(chunkSize).PlainSize(cipherSize)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrTooLarge, err)
	}
	if torn {
		return plain, fmt.Errorf("%w: %d-byte file ends in a fragment too short to be a chunk", ErrTruncated, cipherSize)
	}
	return plain, nil
}

// CiphertextSize returns the size of the ciphertext file that holds
// plainSize bytes (FORMAT.md, "Sizes"). Size 0 maps to 0, a file without a
// header. It returns -1 for a negative or too large plainSize or an invalid
// chunk size.
func CiphertextSize(plainSize int64, chunkSize int) int64 {
	if plainSize == 0 {
		return 0
	}
	if checkChunkSize(int64(chunkSize)) != nil {
		return -1
	}
	s, err := layoutFor(chunkSize).CipherSize(plainSize)
	if err != nil {
		return -1
	}
	return s
}
