package local

import (
	"context"

	"github.com/kmsfs/kmsfs/keyring"
)

// checkPolicy asks the installed Authorizer, if it is a
// [keyring.PolicyChecker], whether doc may become keyARN's policy. Without
// one, only the shape checked by the caller applies.
func (k *Keyring) checkPolicy(ctx context.Context, doc, keyARN string, bypassLockout bool) error {
	b := k.authz.Load()
	if b == nil {
		return nil
	}
	pc, ok := b.a.(keyring.PolicyChecker)
	if !ok {
		return nil
	}
	return pc.CheckPolicy(ctx, []byte(doc), keyARN, bypassLockout)
}
