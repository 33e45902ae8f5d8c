package local_test

import (
	"context"
	"testing"
	"time"

	"github.com/kmsfs/kmsfs/keyring"
)

// TestGetKeyLastUsage: no usage until the key is used; then the newest
// successful cryptographic operation, from the audit log, with its event
// ID; a failed use does not count.
func TestGetKeyLastUsage(t *testing.T) {
	env := newEnv(t)
	ctx := context.Background()
	id := env.createKey()
	out, err := env.kr.GetKeyLastUsage(ctx, &keyring.GetKeyLastUsageInput{KeyId: id})
	if err != nil {
		t.Fatal(err)
	}
	if out.KeyLastUsage != nil || out.TrackingStartDate.After(out.KeyCreationDate.Time) {
		t.Fatalf("an unused key: %+v", out)
	}
	blob := env.encrypt(id, []byte("x"), nil)
	// A failed Decrypt (wrong context) does not count as a use.
	env.kr.Decrypt(ctx, &keyring.DecryptInput{CiphertextBlob: blob, EncryptionContext: map[string]string{"a": "b"}})
	if got := waitLastUse(t, env, id, "Encrypt"); got.CloudTrailEventId == "" || got.Timestamp.IsZero() {
		t.Errorf("after Encrypt: %+v", got)
	}
	if _, err := env.kr.Decrypt(ctx, &keyring.DecryptInput{CiphertextBlob: blob}); err != nil {
		t.Fatal(err)
	}
	waitLastUse(t, env, id, "Decrypt")
	if _, err := env.kr.GetKeyLastUsage(ctx, &keyring.GetKeyLastUsageInput{KeyId: "alias/none"}); err == nil {
		t.Error("GetKeyLastUsage of an unknown key succeeded")
	}
}

// waitLastUse polls (audit records reach the log in batches, within a
// second) until key id's last use is op, and fails after 3 s.
func waitLastUse(t *testing.T, env *testEnv, id, op string) *keyring.KeyLastUsage {
	t.Helper()
	var got *keyring.KeyLastUsage
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		out, err := env.kr.GetKeyLastUsage(context.Background(), &keyring.GetKeyLastUsageInput{KeyId: id})
		if err != nil {
			t.Fatal(err)
		}
		if got = out.KeyLastUsage; got != nil && got.Operation == op {
			return got
		}
	}
	t.Fatalf("last use %+v, want %s", got, op)
	return nil
}
