package policy

import (
	"context"
	"crypto/sha256"
	"fmt"
	"sync"

	"github.com/kmsfs/kmsfs/keyring"
)

// DeniedError is a refused request, worded as AWS KMS words it. It wraps
// [keyring.ErrAccessDenied].
type DeniedError struct {
	Principal string // the caller's ARN
	Action    string // "kms:Decrypt"
	Resource  string // the key ARN
	// Explicit is true when a Deny statement refused the request, false
	// when nothing allowed it.
	Explicit bool
}

func (e *DeniedError) Error() string {
	why := "because no resource-based policy allows the " + e.Action + " action"
	if e.Explicit {
		why = "with an explicit deny in a resource-based policy"
	}
	who := e.Principal
	if who == "" {
		who = "anonymous" // as IAM names an unauthenticated caller
	}
	return "User: " + who + " is not authorized to perform: " + e.Action + " on resource: " + e.Resource + " " + why
}

// Unwrap makes errors.Is(err, keyring.ErrAccessDenied) true.
func (e *DeniedError) Unwrap() error { return keyring.ErrAccessDenied }

// DefaultCacheSize is the number of parsed policies an [Authorizer] keeps
// when its CacheSize is zero.
const DefaultCacheSize = 256

// Authorizer is the kmsfs [keyring.Authorizer]: it evaluates the key's
// policy and grants carried by each request. Parsed policies are cached by
// the SHA-256 of their bytes, so a changed policy is never served stale.
// The zero value is ready to use; an Authorizer must not be copied after
// first use.
type Authorizer struct {
	// CacheSize bounds the parsed-policy cache; zero means
	// DefaultCacheSize.
	CacheSize int

	mu    sync.Mutex
	cache map[[sha256.Size]byte]*cached
}

type cached struct {
	p   *Policy
	err error
}

var _ keyring.Authorizer = (*Authorizer)(nil)

// Authorize allows r (nil) or returns a [*DeniedError]. The order is AWS's:
// an explicit Deny in the key policy refuses whatever grants say; then an
// Allow in the key policy or a matching grant allows; else the request is
// implicitly denied.
//
// A request with no KeyARN is an operation that takes no key (CreateKey,
// ListKeys, ...): kmsfs has no IAM policies to consult, so it allows every
// authenticated principal (one with an ARN). A key whose Policy is empty is
// evaluated under [DefaultPolicy] of the key's account. A stored policy
// that does not parse refuses every request (fail closed).
func (a *Authorizer) Authorize(_ context.Context, r *keyring.AuthzRequest) error {
	if r == nil {
		return &DeniedError{}
	}
	if r.KeyARN == "" {
		if r.Principal.ARN == "" {
			return &DeniedError{Action: r.Action, Resource: "*"}
		}
		return nil
	}
	doc := r.Policy
	if len(doc) == 0 {
		doc = DefaultPolicy(keyAccount(r))
	}
	p, err := a.parse(doc)
	if err != nil {
		// Not wrapped: a caller mapping errors must see an access denial,
		// not a MalformedPolicyDocumentException for a request that sent
		// no policy.
		return a.denied(r, false)
	}
	switch p.Evaluate(r) {
	case ExplicitDeny:
		return a.denied(r, true)
	case Allow:
		return nil
	}
	for i := range r.Grants {
		if grantAllows(&r.Grants[i], r) {
			return nil
		}
	}
	return a.denied(r, false)
}

func (a *Authorizer) denied(r *keyring.AuthzRequest, explicit bool) *DeniedError {
	return &DeniedError{Principal: r.Principal.ARN, Action: r.Action, Resource: r.KeyARN, Explicit: explicit}
}

func keyAccount(r *keyring.AuthzRequest) string {
	if r.KeyAccount != "" {
		return r.KeyAccount
	}
	return arnAccount(r.KeyARN)
}

// parse returns the parsed policy for doc from the cache, parsing and
// caching it on a miss. Parse errors are cached too, so a bad stored
// policy costs one parse, not one per request.
func (a *Authorizer) parse(doc []byte) (*Policy, error) {
	sum := sha256.Sum256(doc)
	a.mu.Lock()
	c, ok := a.cache[sum]
	a.mu.Unlock()
	if ok {
		return c.p, c.err
	}
	p, err := Parse(doc)
	a.mu.Lock()
	defer a.mu.Unlock()
	limit := a.CacheSize
	if limit <= 0 {
		limit = DefaultCacheSize
	}
	if a.cache == nil {
		a.cache = make(map[[sha256.Size]byte]*cached)
	}
	for k := range a.cache {
		if len(a.cache) < limit {
			break
		}
		delete(a.cache, k) // map order is random: a cheap random eviction
	}
	a.cache[sum] = &cached{p, err}
	return p, err
}

// DefaultPolicy returns the key policy AWS KMS gives a key created without
// one, for account, byte for byte as GetKeyPolicy returns it: one statement
// that lets the account root (in kmsfs, every principal of the account)
// perform every KMS action.
func DefaultPolicy(account string) []byte {
	return []byte(`{
  "Version" : "2012-10-17",
  "Id" : "key-default-1",
  "Statement" : [ {
    "Sid" : "Enable IAM User Permissions",
    "Effect" : "Allow",
    "Principal" : {
      "AWS" : "arn:aws:iam::` + account + `:root"
    },
    "Action" : "kms:*",
    "Resource" : "*"
  } ]
}`)
}

// WouldLockOut reports whether installing policy would leave caller unable
// to call PutKeyPolicy on the key keyARN again: AWS's key policy lockout
// safety check, which PutKeyPolicy and CreateKey fail with
// MalformedPolicyDocumentException unless BypassPolicyLockoutSafetyCheck is
// set. Grants do not count, as they cannot allow PutKeyPolicy. A policy
// that does not parse locks everyone out.
func WouldLockOut(policy []byte, caller keyring.Principal, keyARN string) bool {
	p, err := Parse(policy)
	return err != nil || locksOut(p, caller, keyARN)
}

// locksOut is WouldLockOut of a parsed policy.
func locksOut(p *Policy, caller keyring.Principal, keyARN string) bool {
	r := &keyring.AuthzRequest{
		Principal:  caller,
		Action:     "kms:PutKeyPolicy",
		KeyARN:     keyARN,
		KeyAccount: arnAccount(keyARN),
	}
	return p.Evaluate(r) != Allow
}

// ErrLockout is the error callers return when [WouldLockOut] is true and
// the request did not bypass the check. It wraps [ErrMalformedPolicy].
var ErrLockout = fmt.Errorf("%w: the new key policy will not allow you to update the key policy in the future", ErrMalformedPolicy)

var _ keyring.PolicyChecker = (*Authorizer)(nil)

// CheckPolicy refuses a policy that does not parse, and one that would lock
// the calling principal out of kms:PutKeyPolicy on keyARN unless
// bypassLockout, as AWS's lockout safety check does.
func (a *Authorizer) CheckPolicy(ctx context.Context, doc []byte, keyARN string, bypassLockout bool) error {
	p, err := a.parse(doc)
	if err != nil {
		return err
	}
	caller, ok := keyring.PrincipalFrom(ctx)
	if ok && !bypassLockout && locksOut(p, caller, keyARN) {
		return ErrLockout
	}
	return nil
}
