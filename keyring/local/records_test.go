package local_test

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/kmsfs/kmsfs/internal/testkeys"
	"github.com/kmsfs/kmsfs/keyring"
	"github.com/kmsfs/kmsfs/keyring/local"
)

const bobARN = "arn:aws:iam::000000000000:user/bob"

func TestKeyPolicy(t *testing.T) {
	env := newEnv(t)
	ctx := ctxb()
	id := env.createKey()
	got, err := env.kr.GetKeyPolicy(ctx, &keyring.GetKeyPolicyInput{KeyId: id})
	must(t, err)
	if got.PolicyName != "default" || !strings.Contains(got.Policy, `"AWS":"arn:aws:iam::000000000000:root"`) ||
		!strings.Contains(got.Policy, `"Id":"key-default-1"`) {
		t.Fatalf("default policy %+v", got)
	}
	pol := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + bobARN + `"},"Action":"kms:*","Resource":"*"}]}`
	must(t, env.kr.PutKeyPolicy(ctx, &keyring.PutKeyPolicyInput{KeyId: id, Policy: pol, PolicyName: "default"}))
	for _, tt := range []struct {
		name string
		in   keyring.PutKeyPolicyInput
		want error
	}{
		{"not JSON", keyring.PutKeyPolicyInput{KeyId: id, Policy: "{"}, keyring.ErrMalformedPolicy},
		{"not an object", keyring.PutKeyPolicyInput{KeyId: id, Policy: "[]"}, keyring.ErrMalformedPolicy},
		{"empty", keyring.PutKeyPolicyInput{KeyId: id}, keyring.ErrMalformedPolicy},
		{"too large", keyring.PutKeyPolicyInput{KeyId: id, Policy: `{"a":"` + strings.Repeat("x", 32<<10) + `"}`}, keyring.ErrMalformedPolicy},
		{"other name", keyring.PutKeyPolicyInput{KeyId: id, Policy: "{}", PolicyName: "other"}, keyring.ErrNotFound},
		{"unknown key", keyring.PutKeyPolicyInput{KeyId: "alias/none", Policy: "{}"}, keyring.ErrNotFound},
	} {
		wantErr(t, tt.name, env.kr.PutKeyPolicy(ctx, &tt.in), tt.want)
	}
	_, err = env.kr.GetKeyPolicy(ctx, &keyring.GetKeyPolicyInput{KeyId: id, PolicyName: "x"})
	wantErr(t, "GetKeyPolicy other name", err, keyring.ErrNotFound)
	env.reopen()
	got, err = env.kr.GetKeyPolicy(ctx, &keyring.GetKeyPolicyInput{KeyId: id})
	if err != nil || got.Policy != pol {
		t.Fatalf("after reopen: %+v %v", got, err)
	}
	names, err := env.kr.ListKeyPolicies(ctx, &keyring.ListKeyPoliciesInput{KeyId: id})
	if err != nil || !slices.Equal(names.PolicyNames, []string{"default"}) || names.Truncated {
		t.Fatalf("ListKeyPolicies %+v %v", names, err)
	}
	_, err = env.kr.ListKeyPolicies(ctx, &keyring.ListKeyPoliciesInput{KeyId: id, Marker: "zzz"})
	wantErr(t, "ListKeyPolicies bad marker", err, keyring.ErrInvalidMarker)
	created, err := env.kr.CreateKey(ctx, &keyring.CreateKeyInput{Policy: pol})
	must(t, err)
	got, _ = env.kr.GetKeyPolicy(ctx, &keyring.GetKeyPolicyInput{KeyId: created.KeyMetadata.KeyId})
	if got.Policy != pol {
		t.Fatalf("CreateKey policy not kept: %s", got.Policy)
	}
	_, err = env.kr.CreateKey(ctx, &keyring.CreateKeyInput{Policy: "nope"})
	wantErr(t, "CreateKey malformed policy", err, keyring.ErrMalformedPolicy)
}

func TestTags(t *testing.T) {
	env := newEnv(t)
	ctx := ctxb()
	id := env.createKey()
	tooMany := make([]keyring.Tag, 51)
	for i := range tooMany {
		tooMany[i] = keyring.Tag{TagKey: fmt.Sprintf("k%02d", i)}
	}
	for _, tt := range []struct {
		name string
		tags []keyring.Tag
		want error
	}{
		{"empty key", []keyring.Tag{{TagKey: ""}}, keyring.ErrTag},
		{"key 128", []keyring.Tag{{TagKey: strings.Repeat("k", 128)}}, nil},
		{"key 129", []keyring.Tag{{TagKey: strings.Repeat("k", 129)}}, keyring.ErrTag},
		{"value 256", []keyring.Tag{{TagKey: "v", TagValue: strings.Repeat("v", 256)}}, nil},
		{"value 257", []keyring.Tag{{TagKey: "v", TagValue: strings.Repeat("v", 257)}}, keyring.ErrTag},
		{"reserved prefix", []keyring.Tag{{TagKey: "aws:cost"}}, keyring.ErrTag},
		{"reserved prefix, any case", []keyring.Tag{{TagKey: "AWS:cost"}}, keyring.ErrTag},
		{"51 tags", tooMany, keyring.ErrLimitExceeded},
		{"no tags", nil, keyring.ErrValidation},
	} {
		t.Run(tt.name, func(t *testing.T) {
			wantErr(t, "TagResource", env.kr.TagResource(ctx, &keyring.TagResourceInput{KeyId: id, Tags: tt.tags}), tt.want)
		})
	}
	must(t, env.kr.UntagResource(ctx, &keyring.UntagResourceInput{KeyId: id, TagKeys: []string{strings.Repeat("k", 128), "v"}}))
	must(t, env.kr.TagResource(ctx, &keyring.TagResourceInput{KeyId: id, Tags: tooMany[:50]}))
	wantErr(t, "51st tag", env.kr.TagResource(ctx, &keyring.TagResourceInput{KeyId: id, Tags: []keyring.Tag{{TagKey: "one-more"}}}), keyring.ErrLimitExceeded)
	must(t, env.kr.TagResource(ctx, &keyring.TagResourceInput{KeyId: id, Tags: []keyring.Tag{{TagKey: "k00", TagValue: "replaced"}}}))
	must(t, env.kr.UntagResource(ctx, &keyring.UntagResourceInput{KeyId: id, TagKeys: []string{"k49", "absent"}}))
	env.reopen()
	var all []keyring.Tag
	for marker := ""; ; {
		out, err := env.kr.ListResourceTags(ctx, &keyring.ListResourceTagsInput{KeyId: id, Limit: 7, Marker: marker})
		must(t, err)
		all = append(all, out.Tags...)
		if !out.Truncated {
			break
		}
		marker = out.NextMarker
	}
	if len(all) != 49 || all[0] != (keyring.Tag{TagKey: "k00", TagValue: "replaced"}) || all[48].TagKey != "k48" {
		t.Fatalf("tags after reopen: %d, first %+v", len(all), all[0])
	}
	out, err := env.kr.CreateKey(ctx, &keyring.CreateKeyInput{Tags: []keyring.Tag{{TagKey: "b", TagValue: "2"}, {TagKey: "a", TagValue: "1"}}})
	must(t, err)
	lt, err := env.kr.ListResourceTags(ctx, &keyring.ListResourceTagsInput{KeyId: out.KeyMetadata.KeyId})
	if err != nil || !slices.Equal(lt.Tags, []keyring.Tag{{TagKey: "a", TagValue: "1"}, {TagKey: "b", TagValue: "2"}}) {
		t.Fatalf("CreateKey tags: %+v %v", lt, err)
	}
	_, err = env.kr.CreateKey(ctx, &keyring.CreateKeyInput{Tags: []keyring.Tag{{TagKey: "aws:x"}}})
	wantErr(t, "CreateKey reserved tag", err, keyring.ErrTag)
}

func TestUpdateKeyDescription(t *testing.T) {
	env := newEnv(t)
	ctx := ctxb()
	id := env.createKey()
	must(t, env.kr.UpdateKeyDescription(ctx, &keyring.UpdateKeyDescriptionInput{KeyId: id, Description: "new"}))
	wantErr(t, "8193 characters", env.kr.UpdateKeyDescription(ctx, &keyring.UpdateKeyDescriptionInput{KeyId: id, Description: strings.Repeat("d", 8193)}), keyring.ErrValidation)
	env.reopen()
	if d := env.describe(id).Description; d != "new" {
		t.Fatalf("description %q", d)
	}
	_, err := env.kr.ScheduleKeyDeletion(ctx, &keyring.ScheduleKeyDeletionInput{KeyId: id, PendingWindowInDays: 7})
	must(t, err)
	wantErr(t, "pending deletion", env.kr.UpdateKeyDescription(ctx, &keyring.UpdateKeyDescriptionInput{KeyId: id}), keyring.ErrInvalidState)
}

var grantIDPattern = regexp.MustCompile(`^[0-9a-f]{64}$`)

func TestGrants(t *testing.T) {
	env := newEnv(t)
	ctx := ctxb()
	id := env.createKey()
	other := env.createKey()
	in := &keyring.CreateGrantInput{KeyId: id, GranteePrincipal: bobARN, RetiringPrincipal: "arn:aws:iam::000000000000:role/ops",
		Operations: []string{"Encrypt", "Decrypt"}, Name: "backup",
		Constraints: &keyring.GrantConstraints{EncryptionContextSubset: map[string]string{"app": "x"}}}
	g1, err := env.kr.CreateGrant(ctx, in)
	must(t, err)
	if !grantIDPattern.MatchString(g1.GrantId) || g1.GrantToken == "" {
		t.Fatalf("grant %+v", g1)
	}
	again, err := env.kr.CreateGrant(ctx, in)
	if err != nil || *again != *g1 {
		t.Fatalf("same Name and parameters: %+v %v, want %+v", again, err, g1)
	}
	in2 := *in
	in2.Operations = []string{"Decrypt"}
	g2, err := env.kr.CreateGrant(ctx, &in2)
	if err != nil || g2.GrantId == g1.GrantId {
		t.Fatalf("same Name, other operations: %+v %v", g2, err)
	}
	g3, err := env.kr.CreateGrant(ctx, &keyring.CreateGrantInput{KeyId: other, GranteePrincipal: "kms.amazonaws.com",
		RetiringPrincipal: "arn:aws:iam::000000000000:role/ops", Operations: []string{"RetireGrant"}})
	must(t, err)
	for _, tt := range []struct {
		name string
		in   keyring.CreateGrantInput
		want error
	}{
		{"no grantee", keyring.CreateGrantInput{KeyId: id, Operations: []string{"Decrypt"}}, keyring.ErrValidation},
		{"grantee not an ARN", keyring.CreateGrantInput{KeyId: id, GranteePrincipal: "bob", Operations: []string{"Decrypt"}}, keyring.ErrInvalidArn},
		{"no operations", keyring.CreateGrantInput{KeyId: id, GranteePrincipal: bobARN}, keyring.ErrValidation},
		{"unknown operation", keyring.CreateGrantInput{KeyId: id, GranteePrincipal: bobARN, Operations: []string{"Destroy"}}, keyring.ErrValidation},
		{"both constraints", keyring.CreateGrantInput{KeyId: id, GranteePrincipal: bobARN, Operations: []string{"Decrypt"},
			Constraints: &keyring.GrantConstraints{EncryptionContextSubset: map[string]string{"a": "b"}, EncryptionContextEquals: map[string]string{"a": "b"}}}, keyring.ErrValidation},
		{"bad grant token", keyring.CreateGrantInput{KeyId: id, GranteePrincipal: bobARN, Operations: []string{"Decrypt"}, GrantTokens: []string{"junk"}}, keyring.ErrInvalidGrantToken},
		{"bad name", keyring.CreateGrantInput{KeyId: id, GranteePrincipal: bobARN, Operations: []string{"Decrypt"}, Name: "a b"}, keyring.ErrValidation},
		{"unknown key", keyring.CreateGrantInput{KeyId: "alias/none", GranteePrincipal: bobARN, Operations: []string{"Decrypt"}}, keyring.ErrNotFound},
	} {
		_, err := env.kr.CreateGrant(ctx, &tt.in)
		wantErr(t, tt.name, err, tt.want)
	}
	env.reopen()
	var all []keyring.Grant
	for marker := ""; ; {
		out, err := env.kr.ListGrants(ctx, &keyring.ListGrantsInput{KeyId: id, Limit: 1, Marker: marker})
		must(t, err)
		all = append(all, out.Grants...)
		if !out.Truncated {
			break
		}
		marker = out.NextMarker
	}
	if len(all) != 2 {
		t.Fatalf("ListGrants: %d grants", len(all))
	}
	byID, err := env.kr.ListGrants(ctx, &keyring.ListGrantsInput{KeyId: id, GrantId: g1.GrantId})
	must(t, err)
	g := byID.Grants[0]
	if len(byID.Grants) != 1 || g.KeyId != env.describe(id).Arn || g.Name != "backup" || g.GranteePrincipal != bobARN ||
		g.IssuingAccount != "arn:aws:iam::000000000000:root" || !slices.Equal(g.Operations, []string{"Decrypt", "Encrypt"}) ||
		g.Constraints.EncryptionContextSubset["app"] != "x" {
		t.Fatalf("grant %+v", byID.Grants)
	}
	_, err = env.kr.ListGrants(ctx, &keyring.ListGrantsInput{KeyId: id, GrantId: "nope"})
	wantErr(t, "ListGrants bad grant ID", err, keyring.ErrInvalidGrantID)
	ret, err := env.kr.ListRetirableGrants(ctx, &keyring.ListRetirableGrantsInput{RetiringPrincipal: "arn:aws:iam::000000000000:role/ops"})
	if err != nil || len(ret.Grants) != 3 {
		t.Fatalf("ListRetirableGrants: %+v %v", ret, err)
	}
	must(t, env.kr.RetireGrant(ctx, &keyring.RetireGrantInput{GrantToken: g1.GrantToken}))
	wantErr(t, "retire twice", env.kr.RetireGrant(ctx, &keyring.RetireGrantInput{GrantToken: g1.GrantToken}), keyring.ErrNotFound)
	wantErr(t, "retire bad token", env.kr.RetireGrant(ctx, &keyring.RetireGrantInput{GrantToken: "AAAA"}), keyring.ErrInvalidGrantToken)
	wantErr(t, "retire without a grant", env.kr.RetireGrant(ctx, &keyring.RetireGrantInput{KeyId: id}), keyring.ErrValidation)
	must(t, env.kr.RetireGrant(ctx, &keyring.RetireGrantInput{KeyId: other, GrantId: g3.GrantId}))
	wantErr(t, "revoke bad ID", env.kr.RevokeGrant(ctx, &keyring.RevokeGrantInput{KeyId: id, GrantId: "x"}), keyring.ErrInvalidGrantID)
	wantErr(t, "revoke on the wrong key", env.kr.RevokeGrant(ctx, &keyring.RevokeGrantInput{KeyId: other, GrantId: g2.GrantId}), keyring.ErrNotFound)
	must(t, env.kr.RevokeGrant(ctx, &keyring.RevokeGrantInput{KeyId: id, GrantId: g2.GrantId}))
	env.reopen()
	left, err := env.kr.ListGrants(ctx, &keyring.ListGrantsInput{KeyId: id})
	if err != nil || len(left.Grants) != 0 {
		t.Fatalf("after retire and revoke: %+v %v", left, err)
	}
	// A grant token is accepted in crypto requests, a malformed one refused.
	tok, err := env.kr.CreateGrant(ctx, &keyring.CreateGrantInput{KeyId: id, GranteePrincipal: bobARN, Operations: []string{"Encrypt"}})
	must(t, err)
	_, err = env.kr.Encrypt(ctx, &keyring.EncryptInput{KeyId: id, Plaintext: []byte("x"), GrantTokens: []string{tok.GrantToken}})
	must(t, err)
	_, err = env.kr.Encrypt(ctx, &keyring.EncryptInput{KeyId: id, Plaintext: []byte("x"), GrantTokens: []string{"!"}})
	wantErr(t, "Encrypt with a malformed token", err, keyring.ErrInvalidGrantToken)
}

var (
	accessKeyIDPattern = regexp.MustCompile(`^AKIA[A-Z2-7]{16}$`)
	secretPattern      = regexp.MustCompile(`^[A-Za-z0-9+/]{40}$`)
)

func TestAccessKeys(t *testing.T) {
	env := newEnv(t)
	ctx := ctxb()
	user, err := env.kr.CreateAccessKey(ctx, &keyring.CreateAccessKeyInput{Name: "bob"})
	must(t, err)
	role, err := env.kr.CreateAccessKey(ctx, &keyring.CreateAccessKeyInput{Role: "reader"})
	must(t, err)
	u := user.AccessKey
	if !accessKeyIDPattern.MatchString(u.AccessKeyId) || !secretPattern.MatchString(u.SecretAccessKey) ||
		u.UserName != "bob" || u.Status != "Active" || u.Arn != bobARN || u.CreateDate.IsZero() {
		t.Fatalf("access key %+v", u)
	}
	if role.AccessKey.Arn != "arn:aws:iam::000000000000:role/reader" || role.AccessKey.UserName != "" {
		t.Fatalf("role key %+v", role.AccessKey)
	}
	for _, tt := range []struct {
		name string
		in   keyring.CreateAccessKeyInput
	}{
		{"neither", keyring.CreateAccessKeyInput{}},
		{"both", keyring.CreateAccessKeyInput{Name: "a", Role: "b"}},
		{"bad name", keyring.CreateAccessKeyInput{Name: "a/b"}},
		{"long role", keyring.CreateAccessKeyInput{Role: strings.Repeat("r", 65)}},
	} {
		_, err := env.kr.CreateAccessKey(ctx, &tt.in)
		wantErr(t, tt.name, err, keyring.ErrValidation)
	}
	must(t, env.kr.UpdateAccessKey(ctx, &keyring.UpdateAccessKeyInput{AccessKeyId: u.AccessKeyId, Status: "Inactive"}))
	wantErr(t, "bad status", env.kr.UpdateAccessKey(ctx, &keyring.UpdateAccessKeyInput{AccessKeyId: u.AccessKeyId, Status: "Off"}), keyring.ErrValidation)
	wantErr(t, "update unknown", env.kr.UpdateAccessKey(ctx, &keyring.UpdateAccessKeyInput{AccessKeyId: "AKIAX", Status: "Active"}), keyring.ErrNotFound)
	env.reopen()
	secret, p, active, err := env.kr.LookupAccessKey(ctx, u.AccessKeyId)
	if err != nil || string(secret) != u.SecretAccessKey || active || p.ARN != bobARN || p.UserName != "bob" ||
		p.Account != "000000000000" || p.AccessKeyID != u.AccessKeyId {
		t.Fatalf("LookupAccessKey: %+v active=%v %v", p, active, err)
	}
	list, err := env.kr.ListAccessKeys(ctx, &keyring.ListAccessKeysInput{})
	must(t, err)
	if len(list.AccessKeyMetadata) != 2 {
		t.Fatalf("ListAccessKeys: %+v", list)
	}
	for _, a := range list.AccessKeyMetadata {
		if a.SecretAccessKey != "" {
			t.Fatal("ListAccessKeys shows a secret")
		}
	}
	must(t, env.kr.DeleteAccessKey(ctx, &keyring.AccessKeyIDInput{AccessKeyId: u.AccessKeyId}))
	wantErr(t, "delete twice", env.kr.DeleteAccessKey(ctx, &keyring.AccessKeyIDInput{AccessKeyId: u.AccessKeyId}), keyring.ErrNotFound)
	env.reopen()
	_, _, _, err = env.kr.LookupAccessKey(ctx, u.AccessKeyId)
	wantErr(t, "lookup deleted", err, keyring.ErrNotFound)
	// Only the account root manages access keys once a principal is named.
	bob := keyring.WithPrincipal(ctx, keyring.Principal{ARN: bobARN, Account: "000000000000"})
	_, err = env.kr.CreateAccessKey(bob, &keyring.CreateAccessKeyInput{Name: "eve"})
	wantErr(t, "bob creates a key", err, keyring.ErrAccessDenied)
	root := keyring.WithPrincipal(ctx, keyring.Principal{ARN: "arn:aws:iam::000000000000:root", Account: "000000000000"})
	_, err = env.kr.ListAccessKeys(root, &keyring.ListAccessKeysInput{})
	must(t, err)
}

func TestAccountPersisted(t *testing.T) {
	env := newEnv(t)
	ctx := ctxb()
	id := env.createKey()
	must(t, env.kr.Close())
	env.kr = nil
	open := func(account string) *local.Keyring {
		t.Helper()
		opts := env.options(false)
		opts.Account = account
		kr, err := local.Open(env.dir, testPass, opts)
		must(t, err)
		return kr
	}
	kr := open("")
	if kr.Account() != local.DefaultAccount {
		t.Fatalf("account %s", kr.Account())
	}
	must(t, kr.Close())
	kr = open("111122223333")
	arn := func(kr *local.Keyring) string {
		out, err := kr.DescribeKey(ctx, &keyring.KeyIDInput{KeyId: id})
		must(t, err)
		return out.KeyMetadata.Arn
	}
	if got := arn(kr); got != "arn:aws:kms:local:111122223333:key/"+id {
		t.Fatalf("ARN %s", got)
	}
	recs, err := kr.Audit(ctx, keyring.AuditFilter{Op: "SetAccount"})
	if err != nil || len(recs) != 1 {
		t.Fatalf("SetAccount audit: %+v %v", recs, err)
	}
	must(t, kr.Close())
	kr = open("")
	if got := arn(kr); !strings.Contains(got, ":111122223333:") {
		t.Fatalf("account not kept: %s", got)
	}
	must(t, kr.Close())
	opts := env.options(false)
	opts.Account = "12345"
	_, err = local.Open(env.dir, testPass, opts)
	wantErr(t, "bad account", err, keyring.ErrValidation)
	dir := t.TempDir()
	kr, err = local.Open(dir, testPass, local.Options{Create: true, KDF: testkeys.KDF, Account: "444455556666"})
	must(t, err)
	must(t, kr.Close())
	kr, err = local.Open(dir, testPass, local.Options{KDF: testkeys.KDF})
	must(t, err)
	defer kr.Close()
	if kr.Account() != "444455556666" {
		t.Fatalf("account at creation not kept: %s", kr.Account())
	}
}

func TestBundleCarriesPoliciesGrantsTags(t *testing.T) {
	src := newEnv(t)
	ctx := ctxb()
	id := src.createKey()
	pol := `{"Version":"2012-10-17","Statement":[]}`
	must(t, src.kr.PutKeyPolicy(ctx, &keyring.PutKeyPolicyInput{KeyId: id, Policy: pol}))
	must(t, src.kr.TagResource(ctx, &keyring.TagResourceInput{KeyId: id, Tags: []keyring.Tag{{TagKey: "team", TagValue: "a"}}}))
	g, err := src.kr.CreateGrant(ctx, &keyring.CreateGrantInput{KeyId: id, GranteePrincipal: bobARN, Operations: []string{"Decrypt"},
		Constraints: &keyring.GrantConstraints{EncryptionContextEquals: map[string]string{"k": "v"}}})
	must(t, err)
	_, err = src.kr.CreateAccessKey(ctx, &keyring.CreateAccessKeyInput{Name: "bob"})
	must(t, err)
	bundle := src.export()
	dst := newEnv(t)
	_, err = dst.importBundle(bundle, false)
	must(t, err)
	dst.reopen()
	got, err := dst.kr.GetKeyPolicy(ctx, &keyring.GetKeyPolicyInput{KeyId: id})
	if err != nil || got.Policy != pol {
		t.Fatalf("policy %+v %v", got, err)
	}
	tags, err := dst.kr.ListResourceTags(ctx, &keyring.ListResourceTagsInput{KeyId: id})
	if err != nil || len(tags.Tags) != 1 || tags.Tags[0].TagValue != "a" {
		t.Fatalf("tags %+v %v", tags, err)
	}
	grants, err := dst.kr.ListGrants(ctx, &keyring.ListGrantsInput{KeyId: id})
	if err != nil || len(grants.Grants) != 1 || grants.Grants[0].GrantId != g.GrantId ||
		grants.Grants[0].Constraints.EncryptionContextEquals["k"] != "v" {
		t.Fatalf("grants %+v %v", grants, err)
	}
	must(t, dst.kr.RetireGrant(ctx, &keyring.RetireGrantInput{GrantToken: g.GrantToken})) // the token still names it
	aks, err := dst.kr.ListAccessKeys(ctx, &keyring.ListAccessKeysInput{})
	if err != nil || len(aks.AccessKeyMetadata) != 0 {
		t.Fatalf("access keys travelled in the bundle: %+v %v", aks, err)
	}
	if errors.Is(err, keyring.ErrBundleCorrupt) {
		t.Fatal(err)
	}
}
