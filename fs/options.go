package fs

import (
	"errors"
	"log/slog"

	"github.com/kmsfs/kmsfs/envelope"
	"github.com/kmsfs/kmsfs/internal/names"
)

// Options configures a mount. CipherDir and Keys are required.
type Options struct {
	// CipherDir is the backing directory holding the encrypted files.
	CipherDir string
	// ChunkSize is the volume's plaintext chunk size; 0 means
	// envelope.DefaultChunkSize. It must match the volume's config: sizes
	// are computed from it without reading the files.
	ChunkSize int
	// Keys wraps data keys of new files and unwraps those of existing ones.
	Keys envelope.KeyService
	// ReadOnly mounts read-only and refuses every change.
	ReadOnly bool
	// AllowOther lets other users use the mount; the kernel then checks
	// permissions (default_permissions), as on a local disk.
	AllowOther bool
	// Debug logs every FUSE request (go-fuse's debug output) on Logger at
	// slog.LevelDebug.
	Debug bool
	// Logger receives warnings (a corrupt chunk with its plaintext path and
	// index, a file that is not a kmsfs file). It never receives secrets.
	// nil discards them.
	Logger *slog.Logger
	// Names encrypts file and directory names, symlink targets and user.*
	// xattrs (docs/NAMES.md) when set; nil stores them as they are (a
	// volume made with --plaintext-names). It must match the volume: the
	// caller builds it from the volume's name key, keeps owning it, and
	// closes it after unmounting.
	Names *names.Codec
	// UnmarkedSymlinks follows symlinks of a plaintext-names volume that
	// lack the mark the mount gives every symlink it makes (docs/NAMES.md
	// §10.1): those made before kmsfs marked symlinks. It also follows
	// symlinks planted in CipherDir, out of the mount if they say so; each
	// is logged once. Without it such symlinks fail readlink with EIO.
	// Encrypted-names volumes ignore it.
	UnmarkedSymlinks bool
	// ReservedNames are files at the root of CipherDir that kmsfs itself
	// uses (the volume config, ...): they are hidden from listings and
	// lookups, and cannot be created through the mount.
	ReservedNames []string
	// ReadAhead is the kernel's readahead window for the mount, in bytes
	// (rounded down to KiB): how far ahead of a sequential reader the
	// kernel reads. 0 means DefaultReadAhead; negative keeps the kernel's
	// default (128 KiB). Setting it needs root; without, the mount keeps
	// the default and logs why at debug level.
	ReadAhead int
}

var (
	// ErrNoCipherDir is returned when Options.CipherDir is empty or not a directory.
	ErrNoCipherDir = errors.New("fs: cipher directory missing or not a directory")
	// ErrNoKeys is returned when Options.Keys is nil.
	ErrNoKeys = errors.New("fs: no key service")
	// ErrChunkSize is returned for an Options.ChunkSize envelope does not
	// allow (a power of two from envelope.MinChunkSize to MaxChunkSize).
	ErrChunkSize = errors.New("fs: invalid chunk size")
)

// chunkSize returns the effective chunk size.
func (o *Options) chunkSize() int {
	if o.ChunkSize == 0 {
		return envelope.DefaultChunkSize
	}
	return o.ChunkSize
}

// logger returns the effective logger: one that discards when unset.
func (o *Options) logger() *slog.Logger {
	if o.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return o.Logger
}
