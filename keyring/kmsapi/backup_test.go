package kmsapi_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"slices"
	"testing"

	"github.com/kmsfs/kmsfs/internal/testkeys"
	"github.com/kmsfs/kmsfs/keyring"
	"github.com/kmsfs/kmsfs/keyring/kmsapi"
	"github.com/kmsfs/kmsfs/keyring/local"
)

// serveKeyring opens a real keyring and serves it on its socket, as a
// mount does, returning the keyring and a client of the socket.
func serveKeyring(t *testing.T) (*local.Keyring, *kmsapi.Client) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "keyring")
	kr := openKeyring(t, dir)
	s, err := kmsapi.ListenUnix(kmsapi.SocketPath(dir), kmsapi.NewHandler(kr, kmsapi.HandlerOptions{}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return kr, dial(t, kmsapi.SocketPath(dir))
}

var (
	keyringPass = []byte("test passphrase") // openKeyring's
	bundlePass  = []byte("bundle passphrase")
)

// TestExportImportOverSocket exports a keyring through one mount's socket
// and imports the bundle through another's, as `kmsfs keyring export` and
// `import` do while mounted: the errors keep their sentinels across the
// wire.
func TestExportImportOverSocket(t *testing.T) {
	ctx := t.Context()
	_, src := serveKeyring(t)
	meta, err := src.CreateKey(ctx, &keyring.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	id := meta.KeyMetadata.KeyId
	if err := src.CreateAlias(ctx, &keyring.AliasInput{AliasName: "alias/fs", TargetKeyId: id}); err != nil {
		t.Fatal(err)
	}
	enc, err := src.Encrypt(ctx, &keyring.EncryptInput{KeyId: id, Plaintext: []byte("over the socket")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = src.ExportKeyring(ctx, &keyring.ExportKeyringInput{KeyringPassphrase: []byte("wrong"), Passphrase: bundlePass, KDF: testkeys.KDF})
	if !errors.Is(err, keyring.ErrWrongPassphrase) {
		t.Fatalf("export with a wrong keyring passphrase: %v, want ErrWrongPassphrase", err)
	}
	exp, err := src.ExportKeyring(ctx, &keyring.ExportKeyringInput{KeyringPassphrase: keyringPass, Passphrase: bundlePass, KDF: testkeys.KDF})
	if err != nil || exp.Keys != 1 || exp.Aliases != 1 {
		t.Fatalf("ExportKeyring: %+v, %v", exp, err)
	}

	_, dst := serveKeyring(t)
	tests := []struct {
		name        string
		keyringPass []byte
		bundle      []byte
		pass        []byte
		want        []error
	}{
		{"no keyring passphrase", nil, exp.Bundle, bundlePass, []error{keyring.ErrWrongPassphrase}},
		{"wrong keyring passphrase", []byte("wrong"), exp.Bundle, bundlePass, []error{keyring.ErrWrongPassphrase}},
		{"wrong passphrase", keyringPass, exp.Bundle, []byte("wrong"), []error{keyring.ErrWrongPassphrase}},
		{"tampered", keyringPass, flipLast(exp.Bundle), bundlePass, []error{keyring.ErrBundleCorrupt, keyring.ErrInvalidCiphertext}},
		{"not a bundle", keyringPass, []byte("hello"), bundlePass, []error{keyring.ErrBundleCorrupt}},
	}
	for _, tc := range tests {
		_, err := dst.ImportKeyring(ctx, &keyring.ImportKeyringInput{KeyringPassphrase: tc.keyringPass, Bundle: tc.bundle, Passphrase: tc.pass})
		for _, want := range tc.want {
			if !errors.Is(err, want) {
				t.Errorf("%s: %v, want %v", tc.name, err, want)
			}
		}
	}
	if _, err := dst.DescribeKey(ctx, &keyring.KeyIDInput{KeyId: id}); !errors.Is(err, keyring.ErrNotFound) {
		t.Fatalf("a refused import added the key: %v", err)
	}
	out, err := dst.ImportKeyring(ctx, &keyring.ImportKeyringInput{KeyringPassphrase: keyringPass, Bundle: exp.Bundle, Passphrase: bundlePass})
	if err != nil || !slices.Equal(out.KeysAdded, []string{id}) || !slices.Equal(out.AliasesAdded, []string{"alias/fs"}) {
		t.Fatalf("ImportKeyring: %+v, %v", out, err)
	}
	dec, err := dst.Decrypt(ctx, &keyring.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	if err != nil || string(dec.Plaintext) != "over the socket" {
		t.Fatalf("Decrypt after import: %v", err)
	}
}

func flipLast(b []byte) []byte {
	c := bytes.Clone(b)
	c[len(c)-1] ^= 1
	return c
}

// TestImportBodyLimit checks that an ImportKeyring request may exceed the
// ordinary request limit (bundles can be megabytes) while other requests
// may not.
func TestImportBodyLimit(t *testing.T) {
	_, c := serveKeyring(t)
	big := bytes.Repeat([]byte{'x'}, 2*kmsapi.DefaultMaxBodyBytes)
	_, err := c.ImportKeyring(t.Context(), &keyring.ImportKeyringInput{KeyringPassphrase: keyringPass, Bundle: big, Passphrase: bundlePass})
	if !errors.Is(err, keyring.ErrBundleCorrupt) {
		t.Fatalf("import of a 2 MiB non-bundle: %v, want ErrBundleCorrupt (the server read it)", err)
	}
	_, err = c.Encrypt(t.Context(), &keyring.EncryptInput{KeyId: "alias/x", Plaintext: big})
	var re *keyring.RemoteError
	if !errors.As(err, &re) || re.Type != "ValidationException" {
		t.Fatalf("Encrypt of 2 MiB: %v, want the body limit's ValidationException", err)
	}
}

// TestAuditOverSocket lists more than one page of audit records through the
// client, with every filter, and compares with the keyring itself.
func TestAuditOverSocket(t *testing.T) {
	ctx := t.Context()
	kr, c := serveKeyring(t)
	meta, err := c.CreateKey(ctx, &keyring.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	id := meta.KeyMetadata.KeyId
	other, err := c.CreateKey(ctx, &keyring.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2100 { // the Encrypts go through kr: the socket is not under test here
		key := id
		if i%3 == 0 {
			key = other.KeyMetadata.KeyId
		}
		if _, err := kr.Encrypt(ctx, &keyring.EncryptInput{KeyId: key, Plaintext: []byte("x")}); err != nil {
			t.Fatal(err)
		}
	}
	filters := []keyring.AuditFilter{
		{},
		{Limit: 5},
		{Limit: 1500},
		{Limit: 1500, Newest: true},
		{Limit: 3, Newest: true},
		{KeyId: id},
		{KeyId: other.KeyMetadata.KeyId, Limit: 1001, Newest: true},
		{Op: "CreateKey"},
		{AfterSeq: 2000},
		{AfterSeq: 10, BeforeSeq: 1200},
	}
	for _, f := range filters {
		want, err := kr.Audit(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.Audit(ctx, f)
		if err != nil {
			t.Fatalf("%+v: %v", f, err)
		}
		if len(got) != len(want) || len(got) > 0 && (got[0].Seq != want[0].Seq || got[len(got)-1].Seq != want[len(want)-1].Seq) {
			t.Errorf("filter %+v: client got %d records (%v..%v), keyring %d", f, len(got), first(got), first(want), len(want))
		}
	}
	st, err := c.AuditStatus(ctx)
	if err != nil || st.Records != 2102 || len(st.Head) != 32 {
		t.Fatalf("AuditStatus: %+v, %v", st, err)
	}
	if err := c.VerifyAudit(ctx); err != nil {
		t.Fatal(err)
	}
}

func first(r []keyring.AuditRecord) uint64 {
	if len(r) == 0 {
		return 0
	}
	return r[0].Seq
}

// brokenAuditor is a service whose audit chain is broken at record 42.
type brokenAuditor struct{ *fakeService }

func (brokenAuditor) Audit(context.Context, keyring.AuditFilter) ([]keyring.AuditRecord, error) {
	return nil, keyring.ErrClosed
}

func (brokenAuditor) AuditStatus(context.Context) (*keyring.AuditStatus, error) {
	return nil, &keyring.AuditError{Seq: 42, Reason: "hash mismatch"}
}

func (b brokenAuditor) VerifyAudit(ctx context.Context) error {
	_, err := b.AuditStatus(ctx)
	return err
}

// TestVerifyAuditBrokenOverWire checks that a broken chain arrives as the
// same *AuditError, record number included, and that a service without
// the audit operations answers UnknownOperationException.
func TestVerifyAuditBrokenOverWire(t *testing.T) {
	c, _ := newHTTPClient(t, brokenAuditor{newFake()}, kmsapi.HandlerOptions{})
	err := c.VerifyAudit(t.Context())
	var ae *keyring.AuditError
	if !errors.Is(err, keyring.ErrAuditBroken) || !errors.As(err, &ae) || ae.Seq != 42 || ae.Reason != "hash mismatch" {
		t.Fatalf("VerifyAudit: %v, want the record 42 AuditError", err)
	}
	plain, _ := newHTTPClient(t, newFake(), kmsapi.HandlerOptions{})
	var re *keyring.RemoteError
	if _, err := plain.Audit(t.Context(), keyring.AuditFilter{}); !errors.As(err, &re) || re.Type != "UnknownOperationException" {
		t.Fatalf("Audit of a service without an audit log: %v", err)
	}
	if _, err := plain.ExportKeyring(t.Context(), &keyring.ExportKeyringInput{}); !errors.As(err, &re) || re.Type != "UnknownOperationException" {
		t.Fatalf("ExportKeyring of a service without bundles: %v", err)
	}
}
