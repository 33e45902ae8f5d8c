//go:build !kmsfsdev

package fs

import (
	"errors"
	"syscall"

	"github.com/kmsfs/kmsfs/keyring"
)

// keysErrno maps the key service's refusals. A key that exists but may not
// be used now (disabled, pending deletion, retired version) is access
// denied, not corruption. A header naming a key the service does not have
// leaves the data unreadable here: an I/O error.
func keysErrno(err error) (syscall.Errno, bool) {
	switch {
	case errors.Is(err, keyring.ErrDisabled), errors.Is(err, keyring.ErrInvalidState),
		errors.Is(err, keyring.ErrVersionRetired), errors.Is(err, keyring.ErrWrongPassphrase):
		return syscall.EACCES, true
	case errors.Is(err, keyring.ErrNotFound):
		return syscall.EIO, true
	}
	return 0, false
}
