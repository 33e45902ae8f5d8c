package local_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/kmsfs/kmsfs/keyring"
)

// checkingAuthorizer allows everything and refuses policies containing
// "bad" as the policy engine would refuse a malformed one.
type checkingAuthorizer struct {
	checked []string // keyARN of each check
	bypass  []bool
}

func (a *checkingAuthorizer) Authorize(context.Context, *keyring.AuthzRequest) error { return nil }

func (a *checkingAuthorizer) CheckPolicy(_ context.Context, doc []byte, keyARN string, bypass bool) error {
	a.checked = append(a.checked, keyARN)
	a.bypass = append(a.bypass, bypass)
	if strings.Contains(string(doc), "bad") {
		return keyring.ErrMalformedPolicy
	}
	return nil
}

// TestPoliciesAreCheckedBeforeTheyAreStored: CreateKey with a Policy and
// PutKeyPolicy ask the installed PolicyChecker, with the key's ARN and the
// bypass flag, and store nothing it refuses.
func TestPoliciesAreCheckedBeforeTheyAreStored(t *testing.T) {
	env := newEnv(t)
	a := &checkingAuthorizer{}
	env.kr.SetAuthorizer(a)
	ctx := context.Background()
	if _, err := env.kr.CreateKey(ctx, &keyring.CreateKeyInput{Policy: `{"Statement":"bad"}`}); !errors.Is(err, keyring.ErrMalformedPolicy) {
		t.Fatalf("CreateKey with a refused policy: %v", err)
	}
	id := env.createKey() // no policy: the default, not checked
	if len(a.checked) != 1 {
		t.Fatalf("checks after two CreateKeys: %d, want 1", len(a.checked))
	}
	good := `{"Version":"2012-10-17","Statement":[]}`
	err := env.kr.PutKeyPolicy(ctx, &keyring.PutKeyPolicyInput{KeyId: id, Policy: `{"bad":1}`, BypassPolicyLockoutSafetyCheck: true})
	if !errors.Is(err, keyring.ErrMalformedPolicy) {
		t.Fatalf("PutKeyPolicy of a refused policy: %v", err)
	}
	if got := a.checked[1]; !strings.HasSuffix(got, ":key/"+id) || !a.bypass[1] {
		t.Errorf("checked %q bypass %v", got, a.bypass[1])
	}
	if err := env.kr.PutKeyPolicy(ctx, &keyring.PutKeyPolicyInput{KeyId: id, Policy: good}); err != nil {
		t.Fatal(err)
	}
	out, err := env.kr.GetKeyPolicy(ctx, &keyring.GetKeyPolicyInput{KeyId: id})
	if err != nil || out.Policy != good {
		t.Fatalf("stored policy %q, %v", out.Policy, err)
	}
}
