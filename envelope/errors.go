package envelope

import (
	"errors"
	"strconv"
)

// Sentinel errors. Test for them with errors.Is; the returned errors add
// context (chunk index, sizes, key reference) by wrapping.
var (
	// ErrUnauthenticated reports that a chunk, a header slot MAC or a
	// wrapped data key failed authentication: the ciphertext was altered,
	// moved, or belongs to another file or key. It deliberately does not
	// say which, so that an attacker learns nothing from the error (as
	// golang.org/x/crypto's AEADs report only "message authentication
	// failed").
	ErrUnauthenticated = errors.New("envelope: message authentication failed")

	// ErrTruncated reports a ciphertext file shorter than it must be: a
	// partial header, a trailing fragment too short to be a chunk, or a
	// plaintext size below the header's committed size (FORMAT.md §8).
	// For a short file it comes from reads that reach the end, not from
	// Open (File.Truncation).
	ErrTruncated = errors.New("envelope: file is truncated")

	// ErrBadHeader reports a header that is malformed. Every more specific
	// header error below also matches ErrBadHeader under errors.Is, so
	// callers can treat "not a valid header" as one case.
	ErrBadHeader = errors.New("envelope: malformed header")

	// ErrBadMagic reports a file that does not start with "KMSFS\x00".
	ErrBadMagic error = &headerError{"envelope: bad magic (not a kmsfs file)"}
	// ErrUnsupportedVersion reports a format version other than Version.
	ErrUnsupportedVersion error = &headerError{"envelope: unsupported format version"}
	// ErrUnsupportedFlags reports non-zero preamble flags.
	ErrUnsupportedFlags error = &headerError{"envelope: unsupported header flags"}
	// ErrBadChunkSize reports a chunk size that is not a power of two in
	// [MinChunkSize, MaxChunkSize]. It is also returned for a bad chunkSize
	// argument.
	ErrBadChunkSize error = &headerError{"envelope: invalid chunk size"}
	// ErrCriticalExtension reports an authenticated header slot carrying a
	// critical extension (type with bit 0x8000 set) this version does not
	// know.
	ErrCriticalExtension error = &headerError{"envelope: unknown critical header extension"}

	// ErrNoHeader reports an empty (0-byte) ciphertext file where a header
	// was required. An empty file is a valid empty plaintext file.
	ErrNoHeader = errors.New("envelope: file has no header (empty file)")
	// ErrNotEmpty reports a Create on a backing file that is not empty.
	ErrNotEmpty = errors.New("envelope: backing file is not empty")
	// ErrClosed reports use of a File after Close.
	ErrClosed = errors.New("envelope: file already closed")
	// ErrInvalidOffset reports a negative offset or size.
	ErrInvalidOffset = errors.New("envelope: negative offset or size")
	// ErrKeyDenied reports that the key service holds the header's master
	// key but refuses to use it now: the key is disabled, pending deletion,
	// or the version is retired. The data is intact; access is denied.
	ErrKeyDenied = errors.New("envelope: key service refused the master key")
	// ErrKeyUnavailable reports that the key service cannot unwrap the data
	// key at all: it does not know the header's key, or it cannot be
	// reached. The data is unreadable here, not necessarily damaged.
	ErrKeyUnavailable = errors.New("envelope: master key unavailable")

	// ErrTooLarge reports an offset or size beyond the largest file whose
	// ciphertext size fits in an int64.
	ErrTooLarge = errors.New("envelope: file too large")
)

// headerError is the type of the specific header errors, which all also
// match ErrBadHeader.
type headerError struct{ msg string }

func (e *headerError) Error() string { return e.msg }

// Is makes every specific header error match ErrBadHeader.
func (e *headerError) Is(target error) bool { return target == ErrBadHeader }

// ChunkError reports a chunk that failed to authenticate or was cut short,
// with its index so that callers can log which part of a file is damaged.
// Err wraps ErrUnauthenticated or ErrTruncated.
type ChunkError struct {
	Index int64 // the chunk index (plaintext offset / chunk size)
	Err   error
}

func (e *ChunkError) Error() string {
	return "envelope: chunk " + strconv.FormatInt(e.Index, 10) + ": " + e.Err.Error()
}

func (e *ChunkError) Unwrap() error { return e.Err }
