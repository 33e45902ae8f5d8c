package session_test

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kmsfs/kmsfs/internal/session"
	"github.com/kmsfs/kmsfs/internal/testkeys"
	"github.com/kmsfs/kmsfs/keyring"
	"github.com/kmsfs/kmsfs/keyring/local"
)

// TestRotationWhileServed: a key whose automatic rotation falls due while
// the keyring is served by a mount gets its new version from the ticker,
// without any use of the key, and the mount's key service then wraps new
// files under it.
func TestRotationWhileServed(t *testing.T) {
	var now atomic.Pointer[time.Time]
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now.Store(&start)
	dir := filepath.Join(t.TempDir(), "keyring")
	open := func() (*local.Keyring, error) {
		return local.Open(dir, []byte("pw"), local.Options{Create: true, KDF: testkeys.KDF,
			Clock: func() time.Time { return *now.Load() }})
	}
	kr, err := session.ReachKeyring(dir, open, session.KeyringOptions{RotationInterval: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kr.Close() })
	if kr.Local() == nil {
		t.Fatal("ReachKeyring did not open the keyring itself")
	}
	ctx := context.Background()
	out, err := kr.CreateKey(ctx, &keyring.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	id := out.KeyMetadata.KeyId
	if err := kr.EnableKeyRotation(ctx, &keyring.EnableKeyRotationInput{KeyId: id, RotationPeriodInDays: 90}); err != nil {
		t.Fatal(err)
	}
	keys := session.NewVolumeKeys(kr, id)
	if ref, _, err := keys.WrapKey(ctx, make([]byte, 32), nil); err != nil || ref.Version != 1 {
		t.Fatalf("before rotation: wrapped under v%d, %v; want v1", ref.Version, err)
	}

	due := start.Add(91 * 24 * time.Hour)
	now.Store(&due)
	if n := waitRotations(t, kr.Local(), id); n != 1 {
		t.Fatalf("after the period: %d automatic rotations, want 1 (the ticker did not rotate)", n)
	}
	ref, _, err := keys.WrapKey(ctx, make([]byte, 32), nil)
	if err != nil || ref.Version != 2 {
		t.Errorf("after rotation: wrapped under v%d, %v; want v2", ref.Version, err)
	}
}

// waitRotations polls (bounded: 2 s) the audit log until it records an
// automatic rotation of key id, and returns how many it saw. It reads the
// audit log because every key operation would itself apply a due rotation,
// hiding whether the ticker did.
func waitRotations(t *testing.T, a keyring.Auditor, id string) int {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		recs, err := a.Audit(context.Background(), keyring.AuditFilter{KeyId: id, Op: "RotateKey"})
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) > 0 {
			return len(recs)
		}
	}
	return 0
}
