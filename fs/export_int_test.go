package fs

import (
	"testing"
)

// RequireFUSE gives the black-box tests the FUSE skip helper.
func RequireFUSE(t testing.TB) { requireFUSE(t) }
