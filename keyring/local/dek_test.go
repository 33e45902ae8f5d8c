package local_test

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/kmsfs/kmsfs/envelope"
	"github.com/kmsfs/kmsfs/keyring"
	"github.com/kmsfs/kmsfs/keyring/local"
)

func TestWrapUnwrapDEK(t *testing.T) {
	env := newEnv(t)
	id := env.createKey()
	if err := env.kr.CreateAlias(ctxb(), &keyring.AliasInput{AliasName: "alias/fs", TargetKeyId: id}); err != nil {
		t.Fatal(err)
	}
	dek := bytes.Repeat([]byte{7}, 32)
	aad := []byte("header preamble")
	w, err := env.kr.WrapDEK(ctxb(), &keyring.WrapDEKInput{KeyId: "alias/fs", Plaintext: dek, AAD: aad})
	if err != nil {
		t.Fatal(err)
	}
	if w.KeyId != id || w.KeyVersion != 1 || len(w.WrappedKey) != 32+32+16 {
		t.Fatalf("WrapDEK output %q v%d len %d", w.KeyId, w.KeyVersion, len(w.WrappedKey))
	}
	in := keyring.UnwrapDEKInput{KeyId: w.KeyId, KeyVersion: w.KeyVersion, WrappedKey: w.WrappedKey, AAD: aad}
	out, err := env.kr.UnwrapDEK(ctxb(), &in)
	if err != nil || !bytes.Equal(out.Plaintext, dek) {
		t.Fatalf("UnwrapDEK: %v", err)
	}
	if _, err := env.kr.RotateKeyOnDemand(ctxb(), &keyring.KeyIDInput{KeyId: id}); err != nil {
		t.Fatal(err)
	}
	w2, err := env.kr.WrapDEK(ctxb(), &keyring.WrapDEKInput{KeyId: id, Plaintext: dek, AAD: aad})
	if err != nil || w2.KeyVersion != 2 {
		t.Fatalf("WrapDEK after rotation: v%d %v", w2.KeyVersion, err)
	}
	if _, err := env.kr.UnwrapDEK(ctxb(), &in); err != nil {
		t.Fatalf("old version after rotation: %v", err)
	}

	bad := func(mod func(in *keyring.UnwrapDEKInput)) keyring.UnwrapDEKInput {
		c := in
		c.WrappedKey = bytes.Clone(in.WrappedKey)
		mod(&c)
		return c
	}
	tests := map[string]struct {
		in   keyring.UnwrapDEKInput
		want error
	}{
		"wrong version":     {bad(func(c *keyring.UnwrapDEKInput) { c.KeyVersion = 2 }), keyring.ErrInvalidCiphertext},
		"missing version":   {bad(func(c *keyring.UnwrapDEKInput) { c.KeyVersion = 9 }), keyring.ErrInvalidCiphertext},
		"version zero":      {bad(func(c *keyring.UnwrapDEKInput) { c.KeyVersion = 0 }), keyring.ErrInvalidCiphertext},
		"wrong AAD":         {bad(func(c *keyring.UnwrapDEKInput) { c.AAD = []byte("header preamblE") }), keyring.ErrInvalidCiphertext},
		"no AAD":            {bad(func(c *keyring.UnwrapDEKInput) { c.AAD = nil }), keyring.ErrInvalidCiphertext},
		"flipped salt":      {bad(func(c *keyring.UnwrapDEKInput) { c.WrappedKey[0] ^= 1 }), keyring.ErrInvalidCiphertext},
		"flipped tag":       {bad(func(c *keyring.UnwrapDEKInput) { c.WrappedKey[len(c.WrappedKey)-1] ^= 1 }), keyring.ErrInvalidCiphertext},
		"truncated":         {bad(func(c *keyring.UnwrapDEKInput) { c.WrappedKey = c.WrappedKey[:40] }), keyring.ErrInvalidCiphertext},
		"empty":             {bad(func(c *keyring.UnwrapDEKInput) { c.WrappedKey = nil }), keyring.ErrInvalidCiphertext},
		"other key":         {bad(func(c *keyring.UnwrapDEKInput) { c.KeyId = env.createKey() }), keyring.ErrInvalidCiphertext},
		"unknown key":       {bad(func(c *keyring.UnwrapDEKInput) { c.KeyId = uuid.NewString() }), keyring.ErrNotFound},
		"key by alias name": {bad(func(c *keyring.UnwrapDEKInput) { c.KeyId = "alias/fs" }), nil},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			out, err := env.kr.UnwrapDEK(ctxb(), &tc.in)
			wantErr(t, name, err, tc.want)
			if err != nil && out != nil {
				t.Fatal("output returned with an error")
			}
		})
	}
	for _, n := range []int{0, 15, 65} {
		_, err := env.kr.WrapDEK(ctxb(), &keyring.WrapDEKInput{KeyId: id, Plaintext: make([]byte, n)})
		wantErr(t, fmt.Sprintf("WrapDEK %d bytes", n), err, keyring.ErrValidation)
	}
}

func TestKeyServiceAdapter(t *testing.T) {
	env := newEnv(t)
	id := env.createKey()
	if err := env.kr.CreateAlias(ctxb(), &keyring.AliasInput{AliasName: "alias/fs", TargetKeyId: id}); err != nil {
		t.Fatal(err)
	}
	ks := keyring.NewKeyService(env.kr, "alias/fs")
	dek, aad := bytes.Repeat([]byte{1}, 32), []byte("aad")
	ref, wrapped, err := ks.WrapKey(ctxb(), dek, aad)
	if err != nil {
		t.Fatal(err)
	}
	if uuid.UUID(ref.KeyID).String() != id || ref.Version != 1 {
		t.Fatalf("ref %v", ref)
	}
	got, err := ks.UnwrapKey(ctxb(), ref, wrapped, aad)
	if err != nil || !bytes.Equal(got, dek) {
		t.Fatalf("UnwrapKey: %v", err)
	}
	_, err = ks.UnwrapKey(ctxb(), ref, wrapped, []byte("other"))
	if !errors.Is(err, envelope.ErrUnauthenticated) || !errors.Is(err, keyring.ErrInvalidCiphertext) {
		t.Fatalf("wrong aad: %v, want both ErrUnauthenticated and ErrInvalidCiphertext", err)
	}
	env.putInState(id, keyring.StateDisabled)
	_, err = ks.UnwrapKey(ctxb(), ref, wrapped, aad)
	if !errors.Is(err, keyring.ErrDisabled) || errors.Is(err, envelope.ErrUnauthenticated) {
		t.Fatalf("disabled key: %v", err)
	}
	_, _, err = ks.WrapKey(ctxb(), dek, aad)
	wantErr(t, "WrapKey under disabled key", err, keyring.ErrDisabled)
}

// TestConcurrentUse runs every kind of operation at once; run with -race.
func TestConcurrentUse(t *testing.T) {
	env := newEnv(t)
	ids := []string{env.createKey(), env.createKey()}
	var wg sync.WaitGroup
	errc := make(chan error, 64)
	worker := func(g int) {
		defer wg.Done()
		id := ids[g%len(ids)]
		for i := range 40 {
			if err := roundTrips(env.kr, id, fmt.Sprint(g, i)); err != nil {
				errc <- err
				return
			}
		}
	}
	for g := range 8 {
		wg.Add(1)
		go worker(g)
	}
	wg.Add(1)
	go func() { // rotations and admin reads alongside
		defer wg.Done()
		for i := range 20 {
			if _, err := env.kr.RotateKeyOnDemand(ctxb(), &keyring.KeyIDInput{KeyId: ids[i%2]}); err != nil {
				errc <- err
				return
			}
			if _, err := env.kr.ListKeys(ctxb(), &keyring.ListInput{}); err != nil {
				errc <- err
				return
			}
		}
	}()
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	if err := env.kr.VerifyAudit(ctxb()); err != nil {
		t.Fatal(err)
	}
}

// roundTrips encrypts, decrypts, wraps and unwraps once.
func roundTrips(kr *local.Keyring, id, tag string) error {
	ec := map[string]string{"tag": tag}
	enc, err := kr.Encrypt(ctxb(), &keyring.EncryptInput{KeyId: id, Plaintext: []byte(tag), EncryptionContext: ec})
	if err != nil {
		return err
	}
	dec, err := kr.Decrypt(ctxb(), &keyring.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ec})
	if err != nil || string(dec.Plaintext) != tag {
		return fmt.Errorf("decrypt %s: %v", tag, err)
	}
	w, err := kr.WrapDEK(ctxb(), &keyring.WrapDEKInput{KeyId: id, Plaintext: make([]byte, 32), AAD: []byte(tag)})
	if err != nil {
		return err
	}
	_, err = kr.UnwrapDEK(keyring.WithCaller(ctxb(), "worker"), &keyring.UnwrapDEKInput{KeyId: w.KeyId, KeyVersion: w.KeyVersion, WrappedKey: w.WrappedKey, AAD: []byte(tag)})
	return err
}
