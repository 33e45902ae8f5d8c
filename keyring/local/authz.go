package local

import (
	"context"
	"fmt"
	"strings"

	"github.com/kmsfs/kmsfs/keyring"
)

// Authorization hook.
//
// With an Authorizer set ([Keyring.SetAuthorizer]) and a principal in the
// request's context ([keyring.WithPrincipal]), every operation on a key asks
// the Authorizer once the key is resolved (for Decrypt and ReEncrypt's
// source, from the ciphertext blob) and before any key material is used,
// with the action "kms:<Op>", the key's ARN, account, spec and usage, its
// policy and grants, the request's grant tokens and encryption context, and
// the alias the request named the key by. ReEncrypt asks kms:ReEncryptFrom
// of the source key and kms:ReEncryptTo of the destination; the kmsfs
// extensions WrapDEK and UnwrapDEK ask kms:Encrypt and kms:Decrypt, which
// is what they are to a policy writer. A refusal is audited once (Outcome
// AccessDeniedException, Caller the principal's ARN) and returned as the
// Authorizer's error.
//
// Not asked: operations that take no key (CreateKey, ListKeys,
// ListAliases, GenerateRandom, ListRetirableGrants, bundles, the audit
// log), access-key management (the account root only), and every caller
// without a principal (the unix socket, in-process callers), for whom
// nothing changes. A key that does not resolve is not asked about either:
// the operation then fails as it always did.
//
// The Authorizer is called without the keyring's lock held, and must not
// call the keyring back on the same request's behalf in a way that waits
// for it.

type authorizerBox struct{ a keyring.Authorizer }

// SetAuthorizer installs a (nil removes it). It may be called at any time;
// requests already past their check are not asked again.
func (k *Keyring) SetAuthorizer(a keyring.Authorizer) {
	if a == nil {
		k.authz.Store(nil)
		return
	}
	k.authz.Store(&authorizerBox{a})
}

// authz is one authorization question before an operation.
type authz struct {
	op     string // the audited operation
	action string // "kms:<Op>"; "" means "kms:"+op
	keyID  string // as the request named the key, or the blob's key UUID
	alias  string // the alias the request named the key by, if another field did
	ec     map[string]string
	tokens []string
	// noAuthz skips the question: the caller asked its own (RetireGrant).
	noAuthz bool
}

// authorize asks the Authorizer, if one is set and ctx names a principal.
func (k *Keyring) authorize(ctx context.Context, z authz) error {
	if err := checkGrantTokens(z.tokens); err != nil {
		return err
	}
	box := k.authz.Load()
	p, ok := keyring.PrincipalFrom(ctx)
	if box == nil || !ok {
		return nil
	}
	req, keyUUID, found := k.authzRequest(ctx, p, z)
	if !found {
		return nil
	}
	return k.decide(ctx, box.a, req, z.op, keyUUID)
}

// decide asks a and audits a refusal.
func (k *Keyring) decide(ctx context.Context, a keyring.Authorizer, req *keyring.AuthzRequest, op, keyUUID string) error {
	err := a.Authorize(ctx, req)
	if err == nil {
		return nil
	}
	k.audit.append(keyring.AuditRecord{Op: op, KeyId: keyUUID, ContextKeys: contextKeys(req.EncryptionContext),
		Caller: req.Principal.ARN, Outcome: outcome(err)})
	return err
}

// authzRequest builds the request for z under the shared lock; found is
// false when the key does not resolve.
func (k *Keyring) authzRequest(ctx context.Context, p keyring.Principal, z authz) (req *keyring.AuthzRequest, keyUUID string, found bool) {
	action := z.action
	if action == "" {
		action = "kms:" + z.op
	}
	err := k.withKey(ctx, z.keyID, func(e *keyEntry) error {
		spec, usage, _ := specOf(e.rec)
		req = &keyring.AuthzRequest{Principal: p, Action: action, KeyARN: k.keyARN(e.rec),
			KeyAccount: k.opts.Account, KeySpec: spec, KeyUsage: usage,
			Policy: []byte(k.policyOf(e.rec)), Grants: k.grantsOf(e.rec), GrantTokens: z.tokens,
			EncryptionContext: z.ec, RequestAlias: cmpOr(z.alias, k.aliasNamed(e.rec.Region, z.keyID))}
		keyUUID = e.rec.keyID()
		return nil
	})
	return req, keyUUID, err == nil
}

// aliasNamed returns the alias name a key reference uses ("alias/x" for
// "alias/x" or its ARN in region), or "".
func (k *Keyring) aliasNamed(region, ref string) string {
	ref = strings.TrimPrefix(ref, k.arnPrefixIn(region))
	if strings.HasPrefix(ref, "alias/") {
		return ref
	}
	return ""
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// AppendAudit records what a transport refused before the service saw it
// (a bad signature, an unknown access key), chained like every record.
// r.Op and r.Outcome are required; Seq, Hash and Count are the log's.
func (k *Keyring) AppendAudit(_ context.Context, r keyring.AuditRecord) error {
	if r.Op == "" || r.Outcome == "" {
		return fmt.Errorf("%w: an audit record needs Op and Outcome", keyring.ErrValidation)
	}
	if err := k.checkOpen(); err != nil {
		return err
	}
	r.Seq, r.Hash, r.Count = 0, nil, 0
	k.audit.append(r)
	return nil
}

var _ keyring.AuditAppender = (*Keyring)(nil)
