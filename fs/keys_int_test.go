package fs

import (
	"fmt"
	"os"
	"syscall"
	"testing"

	"github.com/kmsfs/kmsfs/envelope"
)

// TestKeyDisabled: a disabled master key makes files unreadable with
// EACCES, not EIO.
func TestKeyDisabled(t *testing.T) {
	tm := newTestMount(t)
	if err := os.WriteFile(tm.path("f"), []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	tm.waitReleased(t)
	tm.keys.SetFail(fmt.Errorf("unwrap: %w", envelope.ErrKeyDenied))
	if _, err := os.ReadFile(tm.path("f")); !errnoIs(err, syscall.EACCES) {
		t.Errorf("read with disabled key: %v, want EACCES", err)
	}
}
