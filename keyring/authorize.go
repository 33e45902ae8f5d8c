package keyring

import (
	"context"
	"errors"
)

// Who may call: a key service that enforces key policies and grants asks an
// [Authorizer] before each operation on a key, once it has resolved the key
// (for Decrypt, from the ciphertext) and before it touches key material. The
// service supplies what the decision needs (the key's policy and grants);
// the Authorizer decides. Keeping the two apart means "who may call" and
// "how keys are kept" never share a file.

// Principal is the caller of an operation, named as AWS IAM names it.
type Principal struct {
	// ARN is arn:aws:iam::<account>:user/<name> for an access key acting
	// as an IAM user, arn:aws:iam::<account>:role/<name> for one acting as
	// a role, or arn:aws:iam::<account>:root for the keyring's owner on
	// the unix socket (the uid that holds the keyring open, or root).
	ARN string
	// Account is the 12-digit account the principal belongs to.
	Account string
	// UserName is aws:username: the IAM user's name; empty for roles and
	// the account root.
	UserName string `json:",omitempty"`
	// AccessKeyID is the access key that signed the request; empty on the
	// unix socket.
	AccessKeyID string `json:",omitempty"`
	// SourceIP is aws:SourceIp: the TCP peer's address without port; empty
	// on the unix socket.
	SourceIP string `json:",omitempty"`
	// Region is the AWS region of the request: its SigV4 credential
	// scope's. Empty means the key service's default region (the unix
	// socket, in-process callers).
	Region string `json:",omitempty"`
}

type principalKey struct{}

// WithPrincipal returns a context that names p as the caller. Transports
// set it once they have authenticated the request.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the principal set by [WithPrincipal].
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// AuthzRequest is one authorization question: may the principal perform
// Action on the key?
type AuthzRequest struct {
	Principal Principal
	// Action is the IAM action, "kms:" and the operation name
	// ("kms:Decrypt", "kms:CreateGrant").
	Action string
	// KeyARN, KeyAccount, KeySpec and KeyUsage describe the key acted on.
	KeyARN     string
	KeyAccount string
	KeySpec    string
	KeyUsage   string
	// Policy is the key's policy document (JSON).
	Policy []byte
	// Grants are the key's grants.
	Grants []Grant
	// GrantTokens are the request's grant tokens: grants they name apply
	// even when listing grants would not yet show them.
	GrantTokens []string
	// EncryptionContext is the request's encryption context, if the
	// operation takes one (kms:EncryptionContext:<key>,
	// kms:EncryptionContextKeys).
	EncryptionContext map[string]string
	// RequestAlias is the alias the request named the key by, if any
	// (kms:RequestAlias).
	RequestAlias string
	// ViaService is kms:ViaService; empty for direct calls.
	ViaService string
}

// Authorizer decides an [AuthzRequest]. It returns nil to allow, or an
// error wrapping [ErrAccessDenied] whose message names the action and the
// key ARN, as AWS words it.
type Authorizer interface {
	Authorize(ctx context.Context, r *AuthzRequest) error
}

// ErrAccessDenied is a call that a key policy or grant does not allow (AWS's
// AccessDeniedException).
var ErrAccessDenied = errors.New("keyring: access denied")

// Grant is a KMS grant: it lets GranteePrincipal perform Operations on
// KeyId, within Constraints.
type Grant struct {
	KeyId             string
	GrantId           string
	Name              string `json:",omitempty"`
	CreationDate      EpochTime
	GranteePrincipal  string
	RetiringPrincipal string `json:",omitempty"`
	IssuingAccount    string
	Operations        []string
	Constraints       *GrantConstraints `json:",omitempty"`
}

// GrantConstraints limit a grant to requests whose encryption context
// contains (Subset) or equals (Equals) the given pairs.
type GrantConstraints struct {
	EncryptionContextSubset map[string]string `json:",omitempty"`
	EncryptionContextEquals map[string]string `json:",omitempty"`
}

// PolicyChecker is an optional part of an [Authorizer]. A key service whose
// Authorizer has it calls CheckPolicy before it stores a key policy
// (CreateKey with a Policy, PutKeyPolicy), so that the policy grammar and
// AWS's lockout safety check belong to whoever evaluates policies. The
// error wraps [ErrMalformedPolicy]. The lockout check needs a principal in
// ctx ([WithPrincipal]); without one (the owner on the unix socket) only
// the grammar is checked.
type PolicyChecker interface {
	CheckPolicy(ctx context.Context, doc []byte, keyARN string, bypassLockout bool) error
}
