package local_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"github.com/kmsfs/kmsfs/keyring"
	"github.com/kmsfs/kmsfs/keyring/keyspec"
)

// TestCachedMaterialFollowsKeyState warms the parsed-material cache of a
// signing key and of an HMAC key, then changes the key's state and checks
// that the very next call sees the change: refused once the key is
// disabled, scheduled for deletion or deleted, working again (with the
// same key, as the public key proves) once it is enabled.
func TestCachedMaterialFollowsKeyState(t *testing.T) {
	for _, c := range []struct{ spec, usage, alg string }{
		{keyspec.ECCEd25519, keyspec.UsageSignVerify, keyspec.Ed25519SHA512},
		{keyspec.ECCNISTP256, keyspec.UsageSignVerify, keyspec.ECDSASHA256},
		{keyspec.HMAC256, keyspec.UsageGenerateVerifyMAC, keyspec.HMACSHA256},
	} {
		t.Run(c.spec, func(t *testing.T) {
			env := newEnv(t)
			id := createTyped(t, env, c.spec, c.usage).KeyId
			use := cachedUse(t, env, id, c.usage, c.alg)
			if err := use(); err != nil {
				t.Fatalf("first use: %v", err)
			}
			steps := []struct {
				name   string
				change func() error
				want   error
			}{
				{"DisableKey", func() error { return env.kr.DisableKey(ctxb(), &keyring.KeyIDInput{KeyId: id}) }, keyring.ErrDisabled},
				{"EnableKey", func() error { return env.kr.EnableKey(ctxb(), &keyring.KeyIDInput{KeyId: id}) }, nil},
				{"ScheduleKeyDeletion", func() error {
					_, err := env.kr.ScheduleKeyDeletion(ctxb(), &keyring.ScheduleKeyDeletionInput{KeyId: id, PendingWindowInDays: 7})
					return err
				}, keyring.ErrInvalidState},
				{"CancelKeyDeletion", func() error {
					_, err := env.kr.CancelKeyDeletion(ctxb(), &keyring.KeyIDInput{KeyId: id})
					return err
				}, keyring.ErrDisabled},
				{"EnableKey again", func() error { return env.kr.EnableKey(ctxb(), &keyring.KeyIDInput{KeyId: id}) }, nil},
				{"deletion due", func() error {
					_, err := env.kr.ScheduleKeyDeletion(ctxb(), &keyring.ScheduleKeyDeletionInput{KeyId: id, PendingWindowInDays: 7})
					env.clock.Advance(8 * 24 * time.Hour)
					return err
				}, keyring.ErrNotFound},
			}
			for _, s := range steps {
				if err := s.change(); err != nil {
					t.Fatalf("%s: %v", s.name, err)
				}
				wantErr(t, "first use after "+s.name, use(), s.want)
			}
		})
	}
}

// cachedUse returns one use of key id: a signature checked against the
// key's public key (so a re-enabled key is the same key), or a MAC
// checked against the first.
func cachedUse(t *testing.T, env *testEnv, id, usage, alg string) func() error {
	t.Helper()
	msg := []byte("state changes reach the cache")
	if usage == keyspec.UsageGenerateVerifyMAC {
		var first []byte
		return func() error {
			out, err := env.kr.GenerateMac(ctxb(), &keyring.GenerateMacInput{KeyId: id, Message: msg, MacAlgorithm: alg})
			if err != nil {
				return err
			}
			if first == nil {
				first = out.Mac
			} else if string(out.Mac) != string(first) {
				t.Fatal("the MAC changed: another key's material was served")
			}
			return nil
		}
	}
	pk, err := env.kr.GetPublicKey(ctxb(), &keyring.GetPublicKeyInput{KeyId: id})
	if err != nil {
		t.Fatal(err)
	}
	pub, err := parsePublicKey(pk.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return func() error {
		out, err := env.kr.Sign(ctxb(), &keyring.SignInput{KeyId: id, Message: msg, SigningAlgorithm: alg})
		if err != nil {
			return err
		}
		if !checkSig(pub, msg, out.Signature) {
			t.Fatal("the signature does not verify under the key's public key")
		}
		_, err = env.kr.Verify(ctxb(), &keyring.VerifyInput{KeyId: id, Message: msg, Signature: out.Signature, SigningAlgorithm: alg})
		return err
	}
}

func checkSig(pub any, msg, sig []byte) bool {
	switch p := pub.(type) {
	case ed25519.PublicKey:
		return ed25519.Verify(p, msg, sig)
	case *ecdsa.PublicKey:
		h := sha256.Sum256(msg)
		return ecdsa.VerifyASN1(p, h[:], sig)
	}
	return false
}

// TestRefusedUseIsAudited checks that a use the state refuses leaves its
// record, as a use that succeeds does.
func TestRefusedUseIsAudited(t *testing.T) {
	env := newEnv(t)
	id := createTyped(t, env, keyspec.ECCEd25519, keyspec.UsageSignVerify).KeyId
	in := &keyring.SignInput{KeyId: id, Message: []byte("m"), SigningAlgorithm: keyspec.Ed25519SHA512}
	if _, err := env.kr.Sign(ctxb(), in); err != nil {
		t.Fatal(err)
	}
	if err := env.kr.DisableKey(ctxb(), &keyring.KeyIDInput{KeyId: id}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.kr.Sign(ctxb(), in); !errors.Is(err, keyring.ErrDisabled) {
		t.Fatalf("Sign of a disabled key: %v", err)
	}
	recs, err := env.kr.Audit(ctxb(), keyring.AuditFilter{KeyId: id, Op: keyspec.OpSign})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || recs[0].Outcome != "Success" || recs[1].Outcome != "DisabledException" {
		t.Fatalf("Sign records: %+v", recs)
	}
}
