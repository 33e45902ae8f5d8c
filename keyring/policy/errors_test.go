package policy_test

import (
	"context"
	"errors"
	"testing"

	"github.com/kmsfs/kmsfs/keyring"
	"github.com/kmsfs/kmsfs/keyring/policy"
)

// TestMalformedPolicyKeepsItsAWSName: a parse failure and a lockout both
// reach clients as MalformedPolicyDocumentException.
func TestMalformedPolicyKeepsItsAWSName(t *testing.T) {
	_, err := policy.Parse([]byte(`{"Statement": "nonsense"}`))
	for _, e := range []error{err, policy.ErrLockout} {
		if !errors.Is(e, keyring.ErrMalformedPolicy) {
			t.Errorf("%v does not match keyring.ErrMalformedPolicy", e)
		}
		if name, client := keyring.ErrorType(e); name != "MalformedPolicyDocumentException" || !client {
			t.Errorf("%v is %s (client %v)", e, name, client)
		}
	}
}

func TestCheckPolicy(t *testing.T) {
	const key = "arn:aws:kms:local:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	bob := keyring.WithPrincipal(context.Background(), keyring.Principal{ARN: "arn:aws:iam::111122223333:user/bob", Account: "111122223333"})
	onlyAlice := []byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":"kms:*","Resource":"*"}]}`)
	a := &policy.Authorizer{}
	for _, tc := range []struct {
		name   string
		ctx    context.Context
		doc    []byte
		bypass bool
		want   error
	}{
		{"default policy", bob, policy.DefaultPolicy("111122223333"), false, nil},
		{"grammar", bob, []byte(`{"Statement":"x"}`), false, policy.ErrMalformedPolicy},
		{"locks bob out", bob, onlyAlice, false, policy.ErrLockout},
		{"bob bypasses the check", bob, onlyAlice, true, nil},
		{"socket owner: grammar only", context.Background(), onlyAlice, false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := a.CheckPolicy(tc.ctx, tc.doc, key, tc.bypass); !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Errorf("CheckPolicy = %v, want %v", err, tc.want)
			}
		})
	}
}
