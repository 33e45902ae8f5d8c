package local_test

import (
	"strings"
	"testing"

	"github.com/kmsfs/kmsfs/keyring"
)

func TestAliasNames(t *testing.T) {
	env := newEnv(t)
	id := env.createKey()
	tests := []struct {
		name string
		want error
	}{
		{"alias/ok", nil},
		{"alias/With_Mixed-chars/and/slashes09", nil},
		{"alias/" + strings.Repeat("a", 250), nil},
		{"alias/" + strings.Repeat("a", 251), keyring.ErrInvalidAliasName},
		{"alias/", keyring.ErrInvalidAliasName},
		{"noprefix", keyring.ErrInvalidAliasName},
		{"", keyring.ErrInvalidAliasName},
		{"alias/aws/reserved", keyring.ErrInvalidAliasName},
		{"alias/sp ace", keyring.ErrInvalidAliasName},
		{"alias/dot.ted", keyring.ErrInvalidAliasName},
		{"alias/ünï", keyring.ErrInvalidAliasName},
	}
	for _, tc := range tests {
		err := env.kr.CreateAlias(ctxb(), &keyring.AliasInput{AliasName: tc.name, TargetKeyId: id})
		wantErr(t, "CreateAlias "+tc.name, err, tc.want)
	}
	err := env.kr.UpdateAlias(ctxb(), &keyring.AliasInput{AliasName: "bad", TargetKeyId: id})
	wantErr(t, "UpdateAlias bad name", err, keyring.ErrInvalidAliasName)
	err = env.kr.DeleteAlias(ctxb(), &keyring.AliasInput{AliasName: "alias/aws/x"})
	wantErr(t, "DeleteAlias bad name", err, keyring.ErrInvalidAliasName)
}

func TestAliasLifecycle(t *testing.T) {
	env := newEnv(t)
	k1, k2 := env.createKey(), env.createKey()
	in := &keyring.AliasInput{AliasName: "alias/fs", TargetKeyId: k1}
	if err := env.kr.CreateAlias(ctxb(), in); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "duplicate", env.kr.CreateAlias(ctxb(), &keyring.AliasInput{AliasName: "alias/fs", TargetKeyId: k2}), keyring.ErrAlreadyExists)
	if got := env.describe("alias/fs").KeyId; got != k1 {
		t.Fatalf("alias/fs -> %s, want %s", got, k1)
	}
	env.clock.Advance(day)
	if err := env.kr.UpdateAlias(ctxb(), &keyring.AliasInput{AliasName: "alias/fs", TargetKeyId: k2}); err != nil {
		t.Fatal(err)
	}
	if got := env.describe("alias/fs").KeyId; got != k2 {
		t.Fatalf("after update alias/fs -> %s, want %s", got, k2)
	}
	out, err := env.kr.ListAliases(ctxb(), &keyring.ListAliasesInput{})
	if err != nil || len(out.Aliases) != 1 {
		t.Fatalf("ListAliases: %+v %v", out, err)
	}
	a := out.Aliases[0]
	if a.AliasArn != "arn:aws:kms:local:000000000000:alias/fs" || a.TargetKeyId != k2 || !a.LastUpdatedDate.After(a.CreationDate.Time) {
		t.Fatalf("entry %+v", a)
	}
	wantErr(t, "update missing", env.kr.UpdateAlias(ctxb(), &keyring.AliasInput{AliasName: "alias/none", TargetKeyId: k1}), keyring.ErrNotFound)
	wantErr(t, "update to missing key", env.kr.UpdateAlias(ctxb(), &keyring.AliasInput{AliasName: "alias/fs", TargetKeyId: "00000000-0000-4000-8000-000000000000"}), keyring.ErrNotFound)
	wantErr(t, "target is an alias", env.kr.CreateAlias(ctxb(), &keyring.AliasInput{AliasName: "alias/two", TargetKeyId: "alias/fs"}), keyring.ErrValidation)
	wantErr(t, "no target", env.kr.CreateAlias(ctxb(), &keyring.AliasInput{AliasName: "alias/two"}), keyring.ErrValidation)
	env.putInState(k1, keyring.StatePendingDeletion)
	wantErr(t, "target pending deletion", env.kr.CreateAlias(ctxb(), &keyring.AliasInput{AliasName: "alias/two", TargetKeyId: k1}), keyring.ErrInvalidState)

	if err := env.kr.DeleteAlias(ctxb(), &keyring.AliasInput{AliasName: "alias/fs"}); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "delete twice", env.kr.DeleteAlias(ctxb(), &keyring.AliasInput{AliasName: "alias/fs"}), keyring.ErrNotFound)
	_, err = env.kr.DescribeKey(ctxb(), &keyring.KeyIDInput{KeyId: "alias/fs"})
	wantErr(t, "deleted alias", err, keyring.ErrNotFound)
	env.describe(k2) // the key survives its alias
}

func TestKeyIDForms(t *testing.T) {
	env := newEnv(t)
	id := env.createKey()
	if err := env.kr.CreateAlias(ctxb(), &keyring.AliasInput{AliasName: "alias/app/main", TargetKeyId: id}); err != nil {
		t.Fatal(err)
	}
	arn := "arn:aws:kms:local:000000000000:"
	forms := []string{id, strings.ToUpper(id), arn + "key/" + id, "alias/app/main", arn + "alias/app/main"}
	for _, form := range forms {
		md := env.describe(form)
		if md.KeyId != id {
			t.Errorf("%s resolved to %s", form, md.KeyId)
		}
		blob := env.encrypt(form, []byte("x"), nil)
		out, err := env.kr.Decrypt(ctxb(), &keyring.DecryptInput{CiphertextBlob: blob, KeyId: form})
		if err != nil || out.KeyId != arn+"key/"+id {
			t.Errorf("Decrypt with KeyId %s: %+v %v", form, out, err)
		}
	}
	unknown := []string{
		"00000000-0000-4000-8000-000000000000", "alias/nope", arn + "alias/nope", arn + "key/nope",
		"arn:aws:kms:us-east-1:000000000000:key/" + id, arn + "grant/" + id, "key/" + id, "{" + id + "}", "not a key",
	}
	for _, form := range unknown {
		_, err := env.kr.DescribeKey(ctxb(), &keyring.KeyIDInput{KeyId: form})
		wantErr(t, "DescribeKey "+form, err, keyring.ErrNotFound)
		if err != nil && !strings.Contains(err.Error(), form) {
			t.Errorf("error %q does not name %q", err, form)
		}
	}
	_, err := env.kr.DescribeKey(ctxb(), &keyring.KeyIDInput{})
	wantErr(t, "empty KeyId", err, keyring.ErrValidation)
}

func TestListAliasesFilterAndPaging(t *testing.T) {
	env := newEnv(t)
	k1, k2 := env.createKey(), env.createKey()
	names := []string{"alias/a", "alias/b", "alias/c", "alias/d", "alias/e"}
	for i, n := range names {
		target := k1
		if i%2 == 1 {
			target = k2
		}
		if err := env.kr.CreateAlias(ctxb(), &keyring.AliasInput{AliasName: n, TargetKeyId: target}); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	marker := ""
	for {
		out, err := env.kr.ListAliases(ctxb(), &keyring.ListAliasesInput{Limit: 2, Marker: marker})
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range out.Aliases {
			got = append(got, a.AliasName)
		}
		if !out.Truncated {
			break
		}
		marker = out.NextMarker
	}
	if strings.Join(got, ",") != strings.Join(names, ",") {
		t.Fatalf("paged aliases %v, want %v", got, names)
	}
	out, err := env.kr.ListAliases(ctxb(), &keyring.ListAliasesInput{KeyId: "alias/b"})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Aliases) != 2 || out.Aliases[0].AliasName != "alias/b" || out.Aliases[1].AliasName != "alias/d" {
		t.Fatalf("aliases of k2: %+v", out.Aliases)
	}
	_, err = env.kr.ListAliases(ctxb(), &keyring.ListAliasesInput{KeyId: "alias/zzz"})
	wantErr(t, "filter by unknown key", err, keyring.ErrNotFound)
}
