package local_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/kmsfs/kmsfs/keyring"
)

// fakeAuthorizer records every question and refuses the actions in deny
// (all of them with denyAll).
type fakeAuthorizer struct {
	mu      sync.Mutex
	asked   []keyring.AuthzRequest
	deny    map[string]bool
	denyAll bool
}

func (f *fakeAuthorizer) Authorize(_ context.Context, r *keyring.AuthzRequest) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, *r)
	if f.denyAll || f.deny[r.Action] {
		return fmt.Errorf("%w: %s is not authorized to perform %s on %s", keyring.ErrAccessDenied, r.Principal.ARN, r.Action, r.KeyARN)
	}
	return nil
}

func (f *fakeAuthorizer) actions() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, r := range f.asked {
		out = append(out, r.Action+" "+r.KeyARN)
	}
	return out
}

func (f *fakeAuthorizer) reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked, f.deny, f.denyAll = nil, nil, false
}

var bob = keyring.Principal{ARN: bobARN, Account: "000000000000", UserName: "bob"}

// TestAuthorizerHook runs operations with and without a principal against
// a fake Authorizer and checks what it is asked, what a refusal does, and
// what it audits.
func TestAuthorizerHook(t *testing.T) {
	env := newEnv(t)
	fa := &fakeAuthorizer{}
	env.kr.SetAuthorizer(fa)
	plain := ctxb()
	asBob := keyring.WithPrincipal(plain, bob)
	src, dst := env.createKey(), env.createKey()
	srcARN, dstARN := env.describe(src).Arn, env.describe(dst).Arn
	must(t, env.kr.CreateAlias(plain, &keyring.AliasInput{AliasName: "alias/src", TargetKeyId: src}))
	g, err := env.kr.CreateGrant(plain, &keyring.CreateGrantInput{KeyId: src, GranteePrincipal: bobARN, Operations: []string{"Decrypt"}})
	must(t, err)
	ec := map[string]string{"app": "x"}
	blob := env.encrypt(src, []byte("secret"), ec)
	if len(fa.asked) != 0 {
		t.Fatalf("asked without a principal: %v", fa.actions())
	}

	tests := []struct {
		name string
		ctx  context.Context
		deny []string
		call func(ctx context.Context) error
		want []string // actions asked, "kms:X ARN"
		err  error
	}{
		{"no principal: not asked", plain, []string{"kms:Encrypt"}, func(ctx context.Context) error {
			_, err := env.kr.Encrypt(ctx, &keyring.EncryptInput{KeyId: src, Plaintext: []byte("x")})
			return err
		}, nil, nil},
		{"Encrypt allowed", asBob, nil, func(ctx context.Context) error {
			_, err := env.kr.Encrypt(ctx, &keyring.EncryptInput{KeyId: "alias/src", Plaintext: []byte("x"), EncryptionContext: ec,
				GrantTokens: []string{g.GrantToken}})
			return err
		}, []string{"kms:Encrypt " + srcARN}, nil},
		{"Encrypt denied", asBob, []string{"kms:Encrypt"}, func(ctx context.Context) error {
			_, err := env.kr.Encrypt(ctx, &keyring.EncryptInput{KeyId: src, Plaintext: []byte("x")})
			return err
		}, []string{"kms:Encrypt " + srcARN}, keyring.ErrAccessDenied},
		{"Decrypt resolves the key from the blob", asBob, nil, func(ctx context.Context) error {
			_, err := env.kr.Decrypt(ctx, &keyring.DecryptInput{CiphertextBlob: blob, EncryptionContext: ec})
			return err
		}, []string{"kms:Decrypt " + srcARN}, nil},
		{"Decrypt denied", asBob, []string{"kms:Decrypt"}, func(ctx context.Context) error {
			_, err := env.kr.Decrypt(ctx, &keyring.DecryptInput{CiphertextBlob: blob, EncryptionContext: ec})
			return err
		}, []string{"kms:Decrypt " + srcARN}, keyring.ErrAccessDenied},
		{"ReEncrypt asks both keys", asBob, nil, func(ctx context.Context) error {
			_, err := env.kr.ReEncrypt(ctx, &keyring.ReEncryptInput{CiphertextBlob: blob, SourceEncryptionContext: ec, DestinationKeyId: dst})
			return err
		}, []string{"kms:ReEncryptFrom " + srcARN, "kms:ReEncryptTo " + dstARN}, nil},
		{"ReEncrypt denied at the destination", asBob, []string{"kms:ReEncryptTo"}, func(ctx context.Context) error {
			_, err := env.kr.ReEncrypt(ctx, &keyring.ReEncryptInput{CiphertextBlob: blob, SourceEncryptionContext: ec, DestinationKeyId: dst})
			return err
		}, []string{"kms:ReEncryptFrom " + srcARN, "kms:ReEncryptTo " + dstARN}, keyring.ErrAccessDenied},
		{"GenerateDataKey", asBob, nil, func(ctx context.Context) error {
			_, err := env.kr.GenerateDataKey(ctx, &keyring.GenerateDataKeyInput{KeyId: dst, KeySpec: keyring.DataKeyAES256})
			return err
		}, []string{"kms:GenerateDataKey " + dstARN}, nil},
		{"WrapDEK is kms:Encrypt", asBob, nil, func(ctx context.Context) error {
			_, err := env.kr.WrapDEK(ctx, &keyring.WrapDEKInput{KeyId: dst, Plaintext: make([]byte, 32)})
			return err
		}, []string{"kms:Encrypt " + dstARN}, nil},
		{"DisableKey denied", asBob, []string{"kms:DisableKey"}, func(ctx context.Context) error {
			return env.kr.DisableKey(ctx, &keyring.KeyIDInput{KeyId: dst})
		}, []string{"kms:DisableKey " + dstARN}, keyring.ErrAccessDenied},
		{"DescribeKey", asBob, nil, func(ctx context.Context) error {
			_, err := env.kr.DescribeKey(ctx, &keyring.KeyIDInput{KeyId: dst})
			return err
		}, []string{"kms:DescribeKey " + dstARN}, nil},
		{"PutKeyPolicy denied", asBob, []string{"kms:PutKeyPolicy"}, func(ctx context.Context) error {
			return env.kr.PutKeyPolicy(ctx, &keyring.PutKeyPolicyInput{KeyId: dst, Policy: "{}"})
		}, []string{"kms:PutKeyPolicy " + dstARN}, keyring.ErrAccessDenied},
		{"CreateGrant", asBob, nil, func(ctx context.Context) error {
			_, err := env.kr.CreateGrant(ctx, &keyring.CreateGrantInput{KeyId: dst, GranteePrincipal: bobARN, Operations: []string{"Encrypt"}})
			return err
		}, []string{"kms:CreateGrant " + dstARN}, nil},
		{"no key: not asked", asBob, nil, func(ctx context.Context) error {
			_, err1 := env.kr.CreateKey(ctx, &keyring.CreateKeyInput{})
			_, err2 := env.kr.ListKeys(ctx, &keyring.ListInput{})
			_, err3 := env.kr.ListAliases(ctx, &keyring.ListAliasesInput{})
			_, err4 := env.kr.GenerateRandom(ctx, &keyring.GenerateRandomInput{NumberOfBytes: 8})
			for _, err := range []error{err1, err2, err3, err4} {
				if err != nil {
					return err
				}
			}
			return nil
		}, nil, nil},
		{"unknown key: not asked, NotFound", asBob, nil, func(ctx context.Context) error {
			_, err := env.kr.Encrypt(ctx, &keyring.EncryptInput{KeyId: "alias/none", Plaintext: []byte("x")})
			return err
		}, nil, keyring.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fa.reset()
			fa.deny = map[string]bool{}
			for _, a := range tt.deny {
				fa.deny[a] = true
			}
			wantErr(t, "call", tt.call(tt.ctx), tt.err)
			if got := fa.actions(); !slices.Equal(got, tt.want) {
				t.Fatalf("asked %q, want %q", got, tt.want)
			}
		})
	}
	// The request carries what the Authorizer needs.
	fa.reset()
	_, err = env.kr.Encrypt(asBob, &keyring.EncryptInput{KeyId: "alias/src", Plaintext: []byte("x"), EncryptionContext: ec,
		GrantTokens: []string{g.GrantToken}})
	must(t, err)
	r := fa.asked[0]
	if r.Principal != bob || r.KeyAccount != "000000000000" || r.KeySpec != "SYMMETRIC_DEFAULT" || r.KeyUsage != "ENCRYPT_DECRYPT" ||
		r.RequestAlias != "alias/src" || r.EncryptionContext["app"] != "x" || !slices.Equal(r.GrantTokens, []string{g.GrantToken}) ||
		len(r.Grants) != 1 || r.Grants[0].GrantId != g.GrantId || len(r.Policy) == 0 {
		t.Fatalf("request %+v", r)
	}
	// A refusal is audited once, as AccessDeniedException by the principal,
	// and the key is unchanged.
	recs, err := env.kr.Audit(plain, keyring.AuditFilter{KeyId: dst, Op: "DisableKey"})
	must(t, err)
	if len(recs) != 1 || recs[0].Outcome != "AccessDeniedException" || recs[0].Caller != bobARN {
		t.Fatalf("audit of the refusal: %+v", recs)
	}
	if env.describe(dst).KeyState != keyring.StateEnabled {
		t.Fatal("a refused DisableKey disabled the key")
	}
	recs, err = env.kr.Audit(plain, keyring.AuditFilter{KeyId: src, Op: "Decrypt"})
	must(t, err)
	denied := 0
	for _, r := range recs {
		if r.Outcome == "AccessDeniedException" {
			denied++
		}
	}
	if denied != 1 {
		t.Fatalf("Decrypt refusals audited %d times: %+v", denied, recs)
	}
	env.kr.SetAuthorizer(nil)
	fa.reset()
	fa.denyAll = true
	_, err = env.kr.Encrypt(asBob, &keyring.EncryptInput{KeyId: src, Plaintext: []byte("x")})
	must(t, err)
}

// TestRetireGrantRule checks who may retire a grant when an Authorizer
// refuses everything else.
func TestRetireGrantRule(t *testing.T) {
	env := newEnv(t)
	fa := &fakeAuthorizer{denyAll: true}
	plain := ctxb()
	id := env.createKey()
	ops := "arn:aws:iam::000000000000:role/ops"
	mk := func(operations ...string) *keyring.CreateGrantOutput {
		g, err := env.kr.CreateGrant(plain, &keyring.CreateGrantInput{KeyId: id, GranteePrincipal: bobARN, RetiringPrincipal: ops, Operations: operations})
		must(t, err)
		return g
	}
	g1, g2, g3, g4 := mk("Decrypt"), mk("Decrypt", "RetireGrant"), mk("Encrypt"), mk("GenerateDataKey")
	env.kr.SetAuthorizer(fa)
	as := func(arn string) context.Context {
		return keyring.WithPrincipal(plain, keyring.Principal{ARN: arn, Account: "000000000000"})
	}
	wantErr(t, "grantee without RetireGrant", env.kr.RetireGrant(as(bobARN), &keyring.RetireGrantInput{GrantToken: g1.GrantToken}), keyring.ErrAccessDenied)
	wantErr(t, "grantee with RetireGrant", env.kr.RetireGrant(as(bobARN), &keyring.RetireGrantInput{GrantToken: g2.GrantToken}), nil)
	wantErr(t, "retiring principal", env.kr.RetireGrant(as(ops), &keyring.RetireGrantInput{KeyId: id, GrantId: g1.GrantId}), nil)
	wantErr(t, "account root", env.kr.RetireGrant(as("arn:aws:iam::000000000000:root"), &keyring.RetireGrantInput{GrantToken: g3.GrantToken}), nil)
	wantErr(t, "a stranger", env.kr.RetireGrant(as("arn:aws:iam::000000000000:user/eve"), &keyring.RetireGrantInput{GrantToken: g4.GrantToken}), keyring.ErrAccessDenied)
	fa.reset()
	wantErr(t, "a stranger the policy allows", env.kr.RetireGrant(as("arn:aws:iam::000000000000:user/eve"), &keyring.RetireGrantInput{GrantToken: g4.GrantToken}), nil)
	if got := fa.actions(); len(got) != 1 || got[0] != "kms:RetireGrant "+env.describe(id).Arn {
		t.Fatalf("asked %q", got)
	}
}

// TestAppendAudit records a transport's refusal in the chained log.
func TestAppendAudit(t *testing.T) {
	env := newEnv(t)
	ctx := ctxb()
	must(t, env.kr.AppendAudit(ctx, keyring.AuditRecord{Op: "Decrypt", Caller: "addr:192.0.2.1", Outcome: "IncompleteSignature", Seq: 99}))
	wantErr(t, "no outcome", env.kr.AppendAudit(ctx, keyring.AuditRecord{Op: "Decrypt"}), keyring.ErrValidation)
	recs, err := env.kr.Audit(ctx, keyring.AuditFilter{Op: "Decrypt"})
	if err != nil || len(recs) != 1 || recs[0].Outcome != "IncompleteSignature" || recs[0].Caller != "addr:192.0.2.1" || recs[0].Seq == 99 {
		t.Fatalf("audit %+v %v", recs, err)
	}
	must(t, env.kr.VerifyAudit(ctx))
}
