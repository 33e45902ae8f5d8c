package kmsapi_test

import (
	"bytes"
	"errors"
	"path/filepath"
	"testing"

	"github.com/kmsfs/kmsfs/keyring"
	"github.com/kmsfs/kmsfs/keyring/kmsapi"
)

// TestVersionRetirement retires and destroys versions of a real keyring
// over its socket, as `kmsfs key min-version` does while a mount owns it.
func TestVersionRetirement(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keyring")
	kr := openKeyring(t, dir)
	s, err := kmsapi.ListenUnix(kmsapi.SocketPath(dir), kmsapi.NewHandler(kr, kmsapi.HandlerOptions{}))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := dial(t, kmsapi.SocketPath(dir))
	ctx := t.Context()
	meta, err := c.CreateKey(ctx, &keyring.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	id := meta.KeyMetadata.KeyId
	dek := bytes.Repeat([]byte{7}, 32)
	w1, err := c.WrapDEK(ctx, &keyring.WrapDEKInput{KeyId: id, Plaintext: dek, AAD: []byte("a")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.RotateKeyOnDemand(ctx, &keyring.KeyIDInput{KeyId: id}); err != nil {
		t.Fatal(err)
	}
	unwrapV1 := func() error {
		_, err := c.UnwrapDEK(ctx, &keyring.UnwrapDEKInput{KeyId: id, KeyVersion: w1.KeyVersion, WrappedKey: w1.WrappedKey, AAD: []byte("a")})
		return err
	}
	steps := []struct {
		name string
		call func() error
		want error // of the call
		v1   error // of unwrapping under version 1 afterwards
	}{
		{"destroy above minimum", func() error { return c.DestroyVersionsBelow(ctx, id, 2) }, keyring.ErrValidation, nil},
		{"minimum above current", func() error { return c.SetMinDecryptionVersion(ctx, id, 3) }, keyring.ErrValidation, nil},
		{"unknown key", func() error { return c.SetMinDecryptionVersion(ctx, "alias/none", 2) }, keyring.ErrNotFound, nil},
		{"retire v1", func() error { return c.SetMinDecryptionVersion(ctx, id, 2) }, nil, keyring.ErrVersionRetired},
		{"restore v1", func() error { return c.SetMinDecryptionVersion(ctx, id, 1) }, nil, nil},
		{"retire again", func() error { return c.SetMinDecryptionVersion(ctx, id, 2) }, nil, keyring.ErrVersionRetired},
		{"destroy v1", func() error { return c.DestroyVersionsBelow(ctx, id, 2) }, nil, keyring.ErrVersionRetired},
		{"cannot restore destroyed", func() error { return c.SetMinDecryptionVersion(ctx, id, 1) }, keyring.ErrValidation, keyring.ErrVersionRetired},
	}
	for _, st := range steps {
		err := st.call()
		if (st.want == nil && err != nil) || (st.want != nil && !errors.Is(err, st.want)) {
			t.Fatalf("%s: %v, want %v", st.name, err, st.want)
		}
		if err := unwrapV1(); (st.v1 == nil && err != nil) || (st.v1 != nil && !errors.Is(err, st.v1)) {
			t.Fatalf("%s: unwrap under v1: %v, want %v", st.name, err, st.v1)
		}
	}
	out, err := c.DescribeKey(ctx, &keyring.KeyIDInput{KeyId: id})
	if err != nil || out.KeyMetadata.MinimumDecryptionVersion != 2 {
		t.Fatalf("DescribeKey = %+v, %v; want minimum decryption version 2", out, err)
	}
}

// TestVersionOpsNeedRetirer: a service without the extension answers
// UnknownOperationException for it.
func TestVersionOpsNeedRetirer(t *testing.T) {
	c, _ := newHTTPClient(t, newFake(), kmsapi.HandlerOptions{})
	err := c.SetMinDecryptionVersion(t.Context(), sampleKeyID, 2)
	var re *keyring.RemoteError
	if !errors.As(err, &re) || re.Type != "UnknownOperationException" {
		t.Fatalf("SetMinDecryptionVersion on a plain Service: %v, want UnknownOperationException", err)
	}
}
