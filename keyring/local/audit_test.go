package local_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/kmsfs/kmsfs/keyring"
)

func TestAuditRecords(t *testing.T) {
	env := newEnv(t)
	ctx := keyring.WithCaller(ctxb(), "uid 1000")
	out, err := env.kr.CreateKey(ctx, &keyring.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	id := out.KeyMetadata.KeyId
	enc, err := env.kr.Encrypt(ctx, &keyring.EncryptInput{KeyId: id, Plaintext: []byte("p"), EncryptionContext: map[string]string{"path": "/secret/name", "inode": "42"}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = env.kr.Decrypt(ctx, &keyring.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	wantErr(t, "Decrypt without context", err, keyring.ErrInvalidCiphertext)
	w, err := env.kr.WrapDEK(ctx, &keyring.WrapDEKInput{KeyId: id, Plaintext: make([]byte, 32)})
	if err != nil {
		t.Fatal(err)
	}
	for range 100 {
		if _, err := env.kr.UnwrapDEK(ctx, &keyring.UnwrapDEKInput{KeyId: id, KeyVersion: 1, WrappedKey: w.WrappedKey}); err != nil {
			t.Fatal(err)
		}
	}
	other := env.createKey() // no caller
	if _, err := env.kr.RotateKeyOnDemand(ctxb(), &keyring.KeyIDInput{KeyId: other}); err != nil {
		t.Fatal(err)
	}

	recs, err := env.kr.Audit(ctxb(), keyring.AuditFilter{KeyId: id})
	if err != nil {
		t.Fatal(err)
	}
	var ops []string
	for _, r := range recs {
		ops = append(ops, r.Op+"/"+r.Outcome)
		if r.KeyId != id || r.Caller != "uid 1000" || !r.Time.Equal(env.clock.Now()) {
			t.Errorf("record %+v", r)
		}
	}
	want := []string{"CreateKey/Success", "Encrypt/Success", "Decrypt/InvalidCiphertextException", "WrapDEK/Success", "UnwrapDEK/Success"}
	if !slices.Equal(ops, want) {
		t.Fatalf("ops %v, want %v", ops, want)
	}
	if unwrap := recs[4]; unwrap.Count != 100 || unwrap.KeyVersion != 1 {
		t.Fatalf("aggregated unwrap record %+v", unwrap)
	}
	if !slices.Equal(recs[1].ContextKeys, []string{"inode", "path"}) {
		t.Fatalf("context keys %v", recs[1].ContextKeys)
	}
	all, err := env.kr.Audit(ctxb(), keyring.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range all {
		if r.Seq != uint64(i+1) || len(r.Hash) != 32 {
			t.Fatalf("record %d: seq %d hash %x", i, r.Seq, r.Hash)
		}
		for _, k := range r.ContextKeys {
			if strings.Contains(k, "secret") {
				t.Fatalf("context value leaked into %+v", r)
			}
		}
	}
	rot, err := env.kr.Audit(ctxb(), keyring.AuditFilter{Op: "RotateKeyOnDemand", Limit: 5})
	if err != nil || len(rot) != 1 || rot[0].KeyVersion != 2 || rot[0].KeyId != other {
		t.Fatalf("filtered by op: %+v %v", rot, err)
	}
	if err := env.kr.VerifyAudit(ctxb()); err != nil {
		t.Fatal(err)
	}
}

func TestAuditSurvivesReopen(t *testing.T) {
	env := newEnv(t)
	id := env.createKey()
	env.encrypt(id, []byte("x"), nil) // asynchronous record, flushed by Close
	env.reopen()
	env.encrypt(id, []byte("y"), nil)
	recs, err := env.kr.Audit(ctxb(), keyring.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 || recs[1].Op != "Encrypt" || recs[2].Seq != 3 {
		t.Fatalf("records after reopen: %+v", recs)
	}
	if err := env.kr.VerifyAudit(ctxb()); err != nil {
		t.Fatal(err)
	}
}
