package local_test

import (
	"bytes"
	"testing"

	"github.com/kmsfs/kmsfs/keyring"
)

func TestGenerateRandom(t *testing.T) {
	env := newEnv(t)
	tests := []struct {
		name string
		in   keyring.GenerateRandomInput
		want error
	}{
		{"1 byte", keyring.GenerateRandomInput{NumberOfBytes: 1}, nil},
		{"1024 bytes", keyring.GenerateRandomInput{NumberOfBytes: 1024}, nil},
		{"0 bytes", keyring.GenerateRandomInput{}, keyring.ErrValidation},
		{"1025 bytes", keyring.GenerateRandomInput{NumberOfBytes: 1025}, keyring.ErrValidation},
		{"negative", keyring.GenerateRandomInput{NumberOfBytes: -1}, keyring.ErrValidation},
		{"custom key store", keyring.GenerateRandomInput{NumberOfBytes: 8, CustomKeyStoreId: "cks-1"}, keyring.ErrUnsupported},
		{"recipient", keyring.GenerateRandomInput{NumberOfBytes: 8, Recipient: &keyring.RecipientInfo{}}, keyring.ErrUnsupported},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := env.kr.GenerateRandom(ctxb(), &tt.in)
			wantErr(t, "GenerateRandom", err, tt.want)
			if tt.want == nil && len(out.Plaintext) != tt.in.NumberOfBytes {
				t.Fatalf("%d bytes, want %d", len(out.Plaintext), tt.in.NumberOfBytes)
			}
		})
	}
	a, err := env.kr.GenerateRandom(ctxb(), &keyring.GenerateRandomInput{NumberOfBytes: 32})
	if err != nil {
		t.Fatal(err)
	}
	b, err := env.kr.GenerateRandom(ctxb(), &keyring.GenerateRandomInput{NumberOfBytes: 32})
	if err != nil || bytes.Equal(a.Plaintext, b.Plaintext) {
		t.Fatalf("two draws of 32 bytes are equal (%v)", err)
	}
	recs, err := env.kr.Audit(ctxb(), keyring.AuditFilter{Op: "GenerateRandom"})
	if err != nil || len(recs) != len(tests)+2 {
		t.Fatalf("%d GenerateRandom audit records (%v), want %d", len(recs), err, len(tests)+2)
	}
	if err := env.kr.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = env.kr.GenerateRandom(ctxb(), &keyring.GenerateRandomInput{NumberOfBytes: 1})
	wantErr(t, "after Close", err, keyring.ErrClosed)
	env.kr = nil
}
