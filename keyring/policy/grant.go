package policy

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/kmsfs/kmsfs/keyring"
)

// ErrInvalidGrant is a CreateGrant request that AWS KMS would refuse as
// invalid. Errors wrapping it also wrap [keyring.ErrValidation]
// (ValidationException).
var ErrInvalidGrant = errors.New("policy: invalid grant")

// grantOperations are the operations a grant may allow, in the order of the
// GrantOperation enum of the AWS KMS API (service model kms-2014-11-01).
var grantOperations = []string{
	"Decrypt", "Encrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext",
	"ReEncryptFrom", "ReEncryptTo", "Sign", "Verify", "GetPublicKey",
	"CreateGrant", "RetireGrant", "DescribeKey", "GenerateDataKeyPair",
	"GenerateDataKeyPairWithoutPlaintext", "GenerateMac", "VerifyMac",
	"DeriveSharedSecret",
}

// contextOperations are the grant operations that take an encryption
// context. AWS applies grant constraints only to them; on the others
// (DescribeKey, RetireGrant, Sign, ...) a constrained grant still allows.
var contextOperations = []string{
	"Decrypt", "Encrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext",
	"ReEncryptFrom", "ReEncryptTo", "GenerateDataKeyPair",
	"GenerateDataKeyPairWithoutPlaintext",
}

// GrantOperations returns the operations a grant may allow (AWS's
// GrantOperation enum), as a fresh slice.
func GrantOperations() []string { return slices.Clone(grantOperations) }

// IsGrantOperation reports whether op (without "kms:") is a valid grant
// operation. The match is exact, as AWS's enum validation is.
func IsGrantOperation(op string) bool { return slices.Contains(grantOperations, op) }

var (
	grantNameRE = regexp.MustCompile(`^[a-zA-Z0-9:/_-]{1,256}$`)
	serviceRE   = regexp.MustCompile(`^[a-z0-9.-]+\.amazonaws\.com(\.cn)?$`)
)

func invalidGrant(format string, args ...any) error {
	return fmt.Errorf("%w: %w: "+format, append([]any{keyring.ErrValidation, ErrInvalidGrant}, args...)...)
}

// ValidateGrant checks the CreateGrant inputs of g (GranteePrincipal,
// RetiringPrincipal, Operations, Constraints, Name) as AWS KMS validates
// them. Errors wrap [ErrInvalidGrant] and [keyring.ErrValidation].
func ValidateGrant(g *keyring.Grant) error {
	if g == nil {
		return invalidGrant("no grant")
	}
	if !validGrantee(g.GranteePrincipal) {
		return invalidGrant("GranteePrincipal %q is not a principal ARN or service principal", g.GranteePrincipal)
	}
	if g.RetiringPrincipal != "" && !validGrantee(g.RetiringPrincipal) {
		return invalidGrant("RetiringPrincipal %q is not a principal ARN or service principal", g.RetiringPrincipal)
	}
	if len(g.Operations) == 0 {
		return invalidGrant("Operations must name at least one operation")
	}
	for _, op := range g.Operations {
		if !IsGrantOperation(op) {
			return invalidGrant("Operations member %q is not one of [%s]", op, strings.Join(grantOperations, ", "))
		}
	}
	if c := g.Constraints; c != nil && len(c.EncryptionContextSubset) > 0 && len(c.EncryptionContextEquals) > 0 {
		return invalidGrant("Constraints may set EncryptionContextSubset or EncryptionContextEquals, not both")
	}
	if g.Name != "" && !grantNameRE.MatchString(g.Name) {
		return invalidGrant("Name must be 1 to 256 characters of a-z, A-Z, 0-9, :, /, _ and -")
	}
	return nil
}

func validGrantee(p string) bool {
	return len(p) <= 256 && (principalARNRE.MatchString(p) || serviceRE.MatchString(p))
}

// grantAllows reports whether g lets r's caller perform r.Action. A grant
// whose grantee is an account root admits every principal of that account,
// the same no-IAM choice the key policy makes.
func grantAllows(g *keyring.Grant, r *keyring.AuthzRequest) bool {
	op, ok := strings.CutPrefix(r.Action, "kms:")
	if !ok || !IsGrantOperation(op) || !slices.Contains(g.Operations, op) || !granteeMatches(g.GranteePrincipal, r.Principal) {
		return false
	}
	if g.Constraints == nil || !slices.Contains(contextOperations, op) {
		return true
	}
	if eq := g.Constraints.EncryptionContextEquals; len(eq) > 0 {
		return len(eq) == len(r.EncryptionContext) && contextContains(r.EncryptionContext, eq)
	}
	return contextContains(r.EncryptionContext, g.Constraints.EncryptionContextSubset)
}

func granteeMatches(grantee string, c keyring.Principal) bool {
	if grantee == "" || c.ARN == "" {
		return false
	}
	if grantee == c.ARN {
		return true
	}
	if !strings.HasSuffix(grantee, ":root") {
		return false
	}
	acct := arnAccount(grantee)
	return acct != "" && acct == principalAccount(c)
}

// contextContains reports whether every pair of want is in ctx. Keys match
// without regard to case and values exactly, as AWS documents for grant
// constraints.
func contextContains(ctx, want map[string]string) bool {
	for wk, wv := range want {
		if v, ok := ctx[wk]; ok && v == wv {
			continue
		}
		found := false
		for k, v := range ctx {
			if strings.EqualFold(k, wk) && v == wv {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}
