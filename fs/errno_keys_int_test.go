//go:build !kmsfsdev

package fs

import (
	"fmt"
	"syscall"
	"testing"

	"github.com/kmsfs/kmsfs/keyring"
)

func TestErrnoOfKeys(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want syscall.Errno
	}{
		{"disabled", fmt.Errorf("unwrap: %w", keyring.ErrDisabled), syscall.EACCES},
		{"pending deletion", keyring.ErrInvalidState, syscall.EACCES},
		{"retired version", keyring.ErrVersionRetired, syscall.EACCES},
		{"remote disabled", keyring.ErrorFromType("DisabledException", "no"), syscall.EACCES},
		{"not found", keyring.ErrNotFound, syscall.EIO},
		{"internal", keyring.ErrInternal, syscall.EIO},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, kind := errnoOf(tc.err)
			if got != tc.want {
				t.Errorf("errnoOf(%v) = %v, want %v", tc.err, got, tc.want)
			}
			if tc.want == syscall.EACCES && kind != kindKeys {
				t.Errorf("kind = %d, want kindKeys", kind)
			}
		})
	}
}
