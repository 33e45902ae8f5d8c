package fs

import (
	"context"
	"errors"
	"io"
	iofs "io/fs"
	"syscall"

	"github.com/kmsfs/kmsfs/envelope"
	"github.com/kmsfs/kmsfs/internal/names"
)

// errKind says what, besides the errno, an error deserves: which log line.
type errKind int

const (
	kindPlain   errKind = iota // an ordinary errno: nothing to log
	kindCorrupt                // a chunk failed authentication or is cut short: warn every time
	kindForeign                // not a kmsfs file, or a header we cannot read: warn once per file
	kindKeys                   // the key service refuses or lacks the key: warn once per file
	kindDirIV                  // a directory's IV file is missing or damaged: warn every time
	kindMeta                   // a symlink target or xattr value failed authentication: warn every time
	kindUnknown                // an error we did not expect: warn every time
)

// errnoOf maps an error from the backing filesystem, package envelope or the
// key service to the errno a program sees, and says how to log it.
//
// It is the only place errors cross into FUSE. It uses errors.Is/As only:
// go-fuse's ToErrno turns a wrapped error it does not know into ENOSYS, so
// no wrapped error may ever reach it.
func errnoOf(err error) (syscall.Errno, errKind) {
	if err == nil {
		return 0, kindPlain
	}
	// Key refusals come classified by the key service adapter
	// (keyring.NewKeyService, kmsclient): a key that exists but may not be
	// used now is access denied, not corruption; a key the service lacks or
	// a service that cannot be reached leaves the data unreadable here, an
	// I/O error, never ENOENT. The class comes first: the errno of a
	// remote KMS's failed connection (ECONNREFUSED) or its timeout is not
	// this filesystem's answer.
	switch {
	case errors.Is(err, envelope.ErrKeyDenied):
		return syscall.EACCES, kindKeys
	case errors.Is(err, envelope.ErrKeyUnavailable):
		return syscall.EIO, kindKeys
	}
	// A syscall errno anywhere else in the chain (os.PathError, an
	// envelope ChunkError around a failed pwrite, ...) is the truth: ENOSPC
	// must stay ENOSPC, not become a corruption report.
	var en syscall.Errno
	if errors.As(err, &en) {
		return en, kindPlain
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		// The kernel interrupted the request (signal to the caller).
		return syscall.EINTR, kindPlain
	}
	return errnoOfData(err)
}

// errnoOfData maps the errors that do not come from a syscall or the key
// service's state: bad file contents and the stdlib's portable sentinels.
func errnoOfData(err error) (syscall.Errno, errKind) {
	var ce *envelope.ChunkError
	switch {
	case errors.As(err, &ce), errors.Is(err, envelope.ErrUnauthenticated),
		errors.Is(err, envelope.ErrTruncated), errors.Is(err, io.ErrUnexpectedEOF):
		return syscall.EIO, kindCorrupt
	case errors.Is(err, envelope.ErrBadMagic), errors.Is(err, envelope.ErrUnsupportedVersion),
		errors.Is(err, envelope.ErrBadHeader):
		return syscall.EIO, kindForeign
	case errors.Is(err, iofs.ErrNotExist):
		return syscall.ENOENT, kindPlain
	case errors.Is(err, iofs.ErrExist):
		return syscall.EEXIST, kindPlain
	case errors.Is(err, iofs.ErrPermission):
		return syscall.EACCES, kindPlain
	case errors.Is(err, errReservedName):
		return syscall.EPERM, kindPlain
	case errors.Is(err, errBadName):
		return syscall.EBADMSG, kindPlain
	case errors.Is(err, errBadLinkKey):
		return syscall.EIO, kindMeta
	}
	return errnoOfNames(err)
}

// errnoOfNames maps the errors of encrypted names (package names).
func errnoOfNames(err error) (syscall.Errno, errKind) {
	switch {
	case errors.Is(err, names.ErrNoDirIV), errors.Is(err, names.ErrBadDirIV):
		return syscall.EIO, kindDirIV
	case errors.Is(err, names.ErrUnauthenticated), errors.Is(err, names.ErrUnmarkedTarget):
		return syscall.EIO, kindMeta
	case errors.Is(err, names.ErrTooLong):
		return syscall.ENAMETOOLONG, kindPlain
	case errors.Is(err, names.ErrReservedName):
		return syscall.EPERM, kindPlain
	case errors.Is(err, names.ErrBadName):
		return syscall.EINVAL, kindPlain
	}
	return syscall.EIO, kindUnknown
}
