package fs

import (
	"context"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"os"
	"syscall"
	"testing"

	"github.com/kmsfs/kmsfs/envelope"
)

// errnoCases are the mapping rows that need no key service sentinel.
var errnoCases = []struct {
	name string
	err  error
	want syscall.Errno
	kind errKind
}{
	{"nil", nil, 0, kindPlain},
	{"bare errno", syscall.ENOSPC, syscall.ENOSPC, kindPlain},
	{"path error", &os.PathError{Op: "open", Path: "/x", Err: syscall.ENOENT}, syscall.ENOENT, kindPlain},
	{"wrapped path error", fmt.Errorf("ctx: %w", &os.PathError{Op: "open", Err: syscall.EACCES}), syscall.EACCES, kindPlain},
	{"chunk error around ENOSPC", &envelope.ChunkError{Index: 3, Err: syscall.ENOSPC}, syscall.ENOSPC, kindPlain},
	{"chunk auth", &envelope.ChunkError{Index: 1, Err: envelope.ErrUnauthenticated}, syscall.EIO, kindCorrupt},
	{"wrapped chunk auth", fmt.Errorf("read: %w", &envelope.ChunkError{Index: 1, Err: envelope.ErrUnauthenticated}), syscall.EIO, kindCorrupt},
	{"unauthenticated", fmt.Errorf("x: %w", envelope.ErrUnauthenticated), syscall.EIO, kindCorrupt},
	{"key denied", fmt.Errorf("unwrap: %w", envelope.ErrKeyDenied), syscall.EACCES, kindKeys},
	{"key unavailable", fmt.Errorf("unwrap: %w", envelope.ErrKeyUnavailable), syscall.EIO, kindKeys},
	{"KMS connection refused", errors.Join(envelope.ErrKeyUnavailable, &os.SyscallError{Syscall: "connect", Err: syscall.ECONNREFUSED}), syscall.EIO, kindKeys},
	{"KMS timeout", errors.Join(envelope.ErrKeyUnavailable, context.DeadlineExceeded), syscall.EIO, kindKeys},
	{"truncated", envelope.ErrTruncated, syscall.EIO, kindCorrupt},
	{"unexpected EOF", io.ErrUnexpectedEOF, syscall.EIO, kindCorrupt},
	{"bad magic", fmt.Errorf("open: %w", envelope.ErrBadMagic), syscall.EIO, kindForeign},
	{"bad header", envelope.ErrBadHeader, syscall.EIO, kindForeign},
	{"unsupported version", envelope.ErrUnsupportedVersion, syscall.EIO, kindForeign},
	{"canceled", fmt.Errorf("kms: %w", context.Canceled), syscall.EINTR, kindPlain},
	{"not exist", fmt.Errorf("x: %w", iofs.ErrNotExist), syscall.ENOENT, kindPlain},
	{"exist", iofs.ErrExist, syscall.EEXIST, kindPlain},
	{"permission", iofs.ErrPermission, syscall.EACCES, kindPlain},
	{"reserved name", errReservedName, syscall.EPERM, kindPlain},
	{"bad name", fmt.Errorf("x: %w", errBadName), syscall.EBADMSG, kindPlain},
	{"unknown", errors.New("something else"), syscall.EIO, kindUnknown},
	{"unknown wrapped", fmt.Errorf("a: %w", errors.New("b")), syscall.EIO, kindUnknown},
}

func TestErrnoOf(t *testing.T) {
	for _, tc := range errnoCases {
		t.Run(tc.name, func(t *testing.T) {
			got, kind := errnoOf(tc.err)
			if got != tc.want || kind != tc.kind {
				t.Errorf("errnoOf(%v) = %v (kind %d), want %v (kind %d)", tc.err, got, kind, tc.want, tc.kind)
			}
		})
	}
}

func TestChunkIndex(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int64
	}{
		{fmt.Errorf("x: %w", &envelope.ChunkError{Index: 7, Err: envelope.ErrUnauthenticated}), 7},
		{envelope.ErrUnauthenticated, -1},
		{nil, -1},
	} {
		if got := envelope.ChunkIndex(tc.err); got != tc.want {
			t.Errorf("ChunkIndex(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}
