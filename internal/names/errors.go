package names

import "errors"

// Errors returned by this package. Callers test them with errors.Is; most are
// returned wrapped with context such as a path.
var (
	// ErrBadName means a plaintext name is not a legal file name (empty,
	// ".", "..", or containing '/' or NUL), or an on-disk name does not
	// decrypt to one. The fs layer shows such entries with [Mark].
	ErrBadName = errors.New("names: invalid or undecryptable name")

	// ErrReservedName means a plaintext name starts with a marker prefix
	// ([MarkPrefix], [MarkHashPrefix]); such names are reserved so that a
	// marked entry can never collide with a real one.
	ErrReservedName = errors.New("names: name is reserved for undecryptable entries")

	// ErrTooLong means a plaintext name, xattr name or symlink target is
	// longer than the format can store.
	ErrTooLong = errors.New("names: name or target too long")

	// ErrUnauthenticated means a symlink target or xattr value failed
	// authentication or is malformed. It says nothing more on purpose.
	ErrUnauthenticated = errors.New("names: message authentication failed")

	// ErrUnmarkedTarget means a plaintext-names symlink target lacks the
	// mark the mount gives every symlink it makes (NAMES.md §10.1): it was
	// made before marking existed, or planted in CIPHERDIR.
	ErrUnmarkedTarget = errors.New("names: symlink target is not marked by this volume")

	// ErrNoDirIV means a directory has no IV file; its entries cannot be
	// decrypted but are still listed (marked).
	ErrNoDirIV = errors.New("names: directory IV file missing")

	// ErrBadDirIV means a directory's IV file exists but is damaged: wrong
	// size, all zero, not a regular file, or a symlink.
	ErrBadDirIV = errors.New("names: directory IV file damaged")

	// ErrDirIVExists means WriteDirIV found an IV file already in place; an
	// existing IV is never replaced, because that would orphan every name.
	ErrDirIVExists = errors.New("names: directory IV file already exists")

	// ErrKeySize means NewCodec got a name key that is not [KeySize] bytes.
	ErrKeySize = errors.New("names: name key must be 32 bytes")

	// ErrBadBinding means SealXattrValue or OpenXattrValue got a file
	// binding that is empty or longer than [MaxBindingLen] bytes.
	ErrBadBinding = errors.New("names: xattr binding must be 1 to 255 bytes")

	// ErrClosed means a Codec method was called after Close.
	ErrClosed = errors.New("names: codec is closed")
)
