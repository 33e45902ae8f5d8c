package local

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/kmsfs/kmsfs/internal/testkeys"
	"github.com/kmsfs/kmsfs/keyring"
	"github.com/kmsfs/kmsfs/keyring/keyspec"
)

// TestCachedMaterialZeroed signs with two Ed25519 keys, so each has its
// parsed private key cached, then lets one key's deletion fall due and
// closes the keyring: each cached key is dropped and its bytes are zeros.
func TestCachedMaterialZeroed(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	k, err := Open(t.TempDir(), intPass, Options{Create: true, KDF: testkeys.KDF, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	deleted, kept := signOnce(t, k), signOnce(t, k)
	cDeleted, edDeleted := cachedEd25519(t, k, deleted)
	cKept, edKept := cachedEd25519(t, k, kept)

	if _, err := k.ScheduleKeyDeletion(ctx, &keyring.ScheduleKeyDeletionInput{KeyId: deleted, PendingWindowInDays: 7}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	now = now.Add(8 * 24 * time.Hour)
	mu.Unlock()
	_, err = k.Sign(ctx, &keyring.SignInput{KeyId: deleted, Message: []byte("m"), SigningAlgorithm: keyspec.Ed25519SHA512})
	wantIs(t, "Sign after the deletion fell due", err, keyring.ErrNotFound)
	checkZeroed(t, "deleted key", cDeleted, edDeleted)

	if err := k.Close(); err != nil {
		t.Fatal(err)
	}
	checkZeroed(t, "after Close", cKept, edKept)
}

// signOnce creates an Ed25519 key and signs with it once.
func signOnce(t *testing.T, k *Keyring) string {
	t.Helper()
	out, err := k.CreateKey(context.Background(), &keyring.CreateKeyInput{KeySpec: keyspec.ECCEd25519, KeyUsage: keyspec.UsageSignVerify})
	if err != nil {
		t.Fatal(err)
	}
	id := out.KeyMetadata.KeyId
	if _, err := k.Sign(context.Background(), &keyring.SignInput{KeyId: id, Message: []byte("m"), SigningAlgorithm: keyspec.Ed25519SHA512}); err != nil {
		t.Fatal(err)
	}
	return id
}

// cachedEd25519 returns key id's cached material and a view of its
// private key's bytes (keyspec.Material.ed, read by reflection: the
// test's only way to see that they are overwritten, not just released).
func cachedEd25519(t *testing.T, k *Keyring, id string) (*cachedMaterial, reflect.Value) {
	t.Helper()
	k.mu.RLock()
	e := k.keys[keyRef{ID: uuid.MustParse(id)}]
	k.mu.RUnlock()
	c := e.typed.Load()
	if c == nil || c.m == nil {
		t.Fatalf("key %s: no cached material after a signature", id)
	}
	ed := reflect.ValueOf(c.m).Elem().FieldByName("ed")
	view := ed.Slice(0, ed.Len())
	if view.Len() != 64 || allZero(view) {
		t.Fatalf("key %s: cached private key is %d bytes, all zero %v", id, view.Len(), allZero(view))
	}
	return c, view
}

func checkZeroed(t *testing.T, what string, c *cachedMaterial, view reflect.Value) {
	t.Helper()
	c.use.RLock()
	defer c.use.RUnlock()
	if c.m != nil {
		t.Errorf("%s: the cached material is still held", what)
	}
	if !allZero(view) {
		t.Errorf("%s: the cached private key's bytes were not overwritten", what)
	}
}

func allZero(v reflect.Value) bool {
	for i := range v.Len() {
		if v.Index(i).Uint() != 0 {
			return false
		}
	}
	return true
}

func wantIs(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: %v, want %v", what, err, want)
	}
}
