package kmsapi_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kmsfs/kmsfs/keyring"
	"github.com/kmsfs/kmsfs/keyring/kmsapi"
)

const bobARN = "arn:aws:iam::000000000000:user/bob"

// serveKeyringHTTP serves a real keyring on loopback TCP; with p, every
// request carries p as its principal, as an authenticating transport in
// front of the handler would set it.
func serveKeyringHTTP(t *testing.T, p *keyring.Principal) (*kmsapi.Client, string, keyringHandle) {
	t.Helper()
	kr := openKeyring(t, filepath.Join(t.TempDir(), "keyring"))
	var h http.Handler = kmsapi.NewHandler(kr, kmsapi.HandlerOptions{})
	if p != nil {
		inner := h
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			inner.ServeHTTP(w, r.WithContext(keyring.WithPrincipal(r.Context(), *p)))
		})
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	c := kmsapi.NewClient(srv.URL, srv.Client())
	t.Cleanup(func() { c.Close() })
	return c, srv.URL, kr
}

type keyringHandle interface {
	keyring.Service
	SetAuthorizer(keyring.Authorizer)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestRecordsRoundTrip drives policies, tags, descriptions, grants and
// access keys through the client and the handler into a real keyring.
func TestRecordsRoundTrip(t *testing.T) {
	c, _, _ := serveKeyringHTTP(t, nil)
	ctx := t.Context()
	pol := `{"Version":"2012-10-17","Statement":[]}`
	meta, err := c.CreateKey(ctx, &keyring.CreateKeyInput{Policy: pol, Tags: []keyring.Tag{{TagKey: "team", TagValue: "a"}}})
	must(t, err)
	id := meta.KeyMetadata.KeyId
	got, err := c.GetKeyPolicy(ctx, &keyring.GetKeyPolicyInput{KeyId: id})
	if err != nil || got.Policy != pol || got.PolicyName != "default" {
		t.Fatalf("GetKeyPolicy %+v %v", got, err)
	}
	must(t, c.PutKeyPolicy(ctx, &keyring.PutKeyPolicyInput{KeyId: id, Policy: `{"Statement":[]}`, BypassPolicyLockoutSafetyCheck: true}))
	names, err := c.ListKeyPolicies(ctx, &keyring.ListKeyPoliciesInput{KeyId: id})
	if err != nil || !slices.Equal(names.PolicyNames, []string{"default"}) {
		t.Fatalf("ListKeyPolicies %+v %v", names, err)
	}
	must(t, c.TagResource(ctx, &keyring.TagResourceInput{KeyId: id, Tags: []keyring.Tag{{TagKey: "env", TagValue: "prod"}}}))
	must(t, c.UntagResource(ctx, &keyring.UntagResourceInput{KeyId: id, TagKeys: []string{"team"}}))
	tags, err := c.ListResourceTags(ctx, &keyring.ListResourceTagsInput{KeyId: id})
	if err != nil || !slices.Equal(tags.Tags, []keyring.Tag{{TagKey: "env", TagValue: "prod"}}) {
		t.Fatalf("ListResourceTags %+v %v", tags, err)
	}
	must(t, c.UpdateKeyDescription(ctx, &keyring.UpdateKeyDescriptionInput{KeyId: id, Description: "described"}))
	d, err := c.DescribeKey(ctx, &keyring.KeyIDInput{KeyId: id})
	if err != nil || d.KeyMetadata.Description != "described" {
		t.Fatalf("DescribeKey %+v %v", d, err)
	}
	g, err := c.CreateGrant(ctx, &keyring.CreateGrantInput{KeyId: id, GranteePrincipal: bobARN, RetiringPrincipal: bobARN,
		Operations: []string{"Encrypt", "Decrypt"}, Constraints: &keyring.GrantConstraints{EncryptionContextSubset: map[string]string{"a": "b"}}})
	must(t, err)
	grants, err := c.ListGrants(ctx, &keyring.ListGrantsInput{KeyId: id, GranteePrincipal: bobARN})
	if err != nil || len(grants.Grants) != 1 || grants.Grants[0].GrantId != g.GrantId || grants.Grants[0].Constraints.EncryptionContextSubset["a"] != "b" {
		t.Fatalf("ListGrants %+v %v", grants, err)
	}
	ret, err := c.ListRetirableGrants(ctx, &keyring.ListRetirableGrantsInput{RetiringPrincipal: bobARN})
	if err != nil || len(ret.Grants) != 1 {
		t.Fatalf("ListRetirableGrants %+v %v", ret, err)
	}
	_, err = c.Encrypt(ctx, &keyring.EncryptInput{KeyId: id, Plaintext: []byte("x"), GrantTokens: []string{g.GrantToken}})
	must(t, err)
	must(t, c.RetireGrant(ctx, &keyring.RetireGrantInput{GrantToken: g.GrantToken}))
	g2, err := c.CreateGrant(ctx, &keyring.CreateGrantInput{KeyId: id, GranteePrincipal: bobARN, Operations: []string{"Decrypt"}})
	must(t, err)
	must(t, c.RevokeGrant(ctx, &keyring.RevokeGrantInput{KeyId: id, GrantId: g2.GrantId}))
	ak, err := c.CreateAccessKey(ctx, &keyring.CreateAccessKeyInput{Name: "bob"})
	if err != nil || len(ak.AccessKey.SecretAccessKey) != 40 || ak.AccessKey.Arn != bobARN {
		t.Fatalf("CreateAccessKey %+v %v", ak, err)
	}
	must(t, c.UpdateAccessKey(ctx, &keyring.UpdateAccessKeyInput{AccessKeyId: ak.AccessKey.AccessKeyId, Status: keyring.AccessKeyInactive}))
	list, err := c.ListAccessKeys(ctx, &keyring.ListAccessKeysInput{})
	if err != nil || len(list.AccessKeyMetadata) != 1 || list.AccessKeyMetadata[0].SecretAccessKey != "" ||
		list.AccessKeyMetadata[0].Status != keyring.AccessKeyInactive {
		t.Fatalf("ListAccessKeys %+v %v", list, err)
	}
	must(t, c.DeleteAccessKey(ctx, &keyring.AccessKeyIDInput{AccessKeyId: ak.AccessKey.AccessKeyId}))
	err = c.DeleteAccessKey(ctx, &keyring.AccessKeyIDInput{AccessKeyId: ak.AccessKey.AccessKeyId})
	if !errors.Is(err, keyring.ErrNotFound) {
		t.Fatalf("delete twice: %v", err)
	}
}

// denyDecrypt refuses kms:Decrypt.
type denyDecrypt struct{}

func (denyDecrypt) Authorize(_ context.Context, r *keyring.AuthzRequest) error {
	if r.Action == "kms:Decrypt" {
		return fmt.Errorf("%w: %s is not authorized to perform: kms:Decrypt on resource: %s", keyring.ErrAccessDenied, r.Principal.ARN, r.KeyARN)
	}
	return nil
}

// TestRecordExceptionNames checks the exact AWS exception names of the new
// errors on the wire, and that the client maps them back to sentinels.
func TestRecordExceptionNames(t *testing.T) {
	bob := keyring.Principal{ARN: bobARN, Account: "000000000000"}
	c, url, kr := serveKeyringHTTP(t, &bob)
	kr.SetAuthorizer(denyDecrypt{})
	ctx := t.Context()
	meta, err := c.CreateKey(ctx, &keyring.CreateKeyInput{})
	must(t, err)
	id := meta.KeyMetadata.KeyId
	enc, err := c.Encrypt(ctx, &keyring.EncryptInput{KeyId: id, Plaintext: []byte("x")})
	must(t, err)
	tooMany := make([]string, 51)
	for i := range tooMany {
		tooMany[i] = fmt.Sprintf(`{"TagKey":"k%d","TagValue":""}`, i)
	}
	tests := []struct {
		target, body, want string
		sentinel           error
	}{
		{"PutKeyPolicy", `{"KeyId":"` + id + `","Policy":"{"}`, "MalformedPolicyDocumentException", keyring.ErrMalformedPolicy},
		{"GetKeyPolicy", `{"KeyId":"` + id + `","PolicyName":"other"}`, "NotFoundException", keyring.ErrNotFound},
		{"TagResource", `{"KeyId":"` + id + `","Tags":[{"TagKey":"aws:x","TagValue":""}]}`, "TagException", keyring.ErrTag},
		{"TagResource", `{"KeyId":"` + id + `","Tags":[` + strings.Join(tooMany, ",") + `]}`, "LimitExceededException", keyring.ErrLimitExceeded},
		{"RetireGrant", `{"GrantToken":"not a token"}`, "InvalidGrantTokenException", keyring.ErrInvalidGrantToken},
		{"RevokeGrant", `{"KeyId":"` + id + `","GrantId":"x"}`, "InvalidGrantIdException", keyring.ErrInvalidGrantID},
		{"CreateGrant", `{"KeyId":"` + id + `","GranteePrincipal":"bob","Operations":["Decrypt"]}`, "InvalidArnException", keyring.ErrInvalidArn},
		{"ListResourceTags", `{"KeyId":"` + id + `","Marker":""}`, "", nil},
		{"UpdateKeyDescription", `{"KeyId":"` + id + `","Description":"` + strings.Repeat("d", 8193) + `"}`, "ValidationException", keyring.ErrValidation},
		{"Decrypt", `{"CiphertextBlob":"` + b64(enc.CiphertextBlob) + `"}`, "AccessDeniedException", keyring.ErrWrongPassphrase},
	}
	for _, tt := range tests {
		t.Run(tt.target+"/"+tt.want, func(t *testing.T) {
			r := rawPost(t, url, http.MethodPost, jsonType, "TrentService."+tt.target, []byte(tt.body), false)
			if tt.want == "" {
				if r.status != http.StatusOK {
					t.Fatalf("status %d: %s", r.status, r.body)
				}
				return
			}
			typ, _ := errorFields(t, r.body)
			if r.status != http.StatusBadRequest || typ != tt.want {
				t.Fatalf("got %d %s, want 400 %s", r.status, typ, tt.want)
			}
			if err := keyring.ErrorFromType(typ, ""); !errors.Is(err, tt.sentinel) {
				t.Fatalf("%s maps to %v, want %v", typ, err, tt.sentinel)
			}
		})
	}
}

// TestRecordOpsNeedTheirRoles checks that a service without the new roles
// answers UnknownOperationException for their operations.
func TestRecordOpsNeedTheirRoles(t *testing.T) {
	_, url := newHTTPClient(t, newFake(), kmsapi.HandlerOptions{})
	for _, target := range []string{"TrentService.GetKeyPolicy", "TrentService.TagResource", "TrentService.CreateGrant",
		"TrentService.UpdateKeyDescription", "KmsfsService.CreateAccessKey", "KmsfsService.LookupAccessKey", "KmsfsService.AppendAudit"} {
		r := rawPost(t, url, http.MethodPost, jsonType, target, []byte(`{}`), false)
		if typ, _ := errorFields(t, r.body); typ != "UnknownOperationException" {
			t.Errorf("%s: %s", target, typ)
		}
	}
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// TestLookupAndAppendNotServed checks that the in-process roles of a real
// keyring are not reachable on the wire.
func TestLookupAndAppendNotServed(t *testing.T) {
	_, url, _ := serveKeyringHTTP(t, nil)
	for _, target := range []string{"KmsfsService.LookupAccessKey", "KmsfsService.AppendAudit"} {
		r := rawPost(t, url, http.MethodPost, jsonType, target, []byte(`{}`), false)
		if typ, _ := errorFields(t, r.body); typ != "UnknownOperationException" {
			t.Errorf("%s: %s", target, typ)
		}
	}
}
