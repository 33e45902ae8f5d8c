package fs

import (
	"testing"

	"github.com/kmsfs/kmsfs/envelope"
)

// NewTestKeys gives the black-box tests (package fs_test) the in-memory
// key service.
func NewTestKeys(t testing.TB) envelope.KeyService { return newTestKeys(t) }

// RequireFUSE gives the black-box tests the FUSE skip helper.
func RequireFUSE(t testing.TB) { requireFUSE(t) }
