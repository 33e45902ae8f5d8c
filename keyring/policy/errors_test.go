package policy_test

import (
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
