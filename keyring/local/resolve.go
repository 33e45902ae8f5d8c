package local

import (
	"fmt"
	"strings"

	"github.com/google/uuid"
	"github.com/kmsfs/kmsfs/keyring"
)

// AWS constants for symmetric customer keys, the only kind this keyring has.
const (
	keyUsageEncryptDecrypt = "ENCRYPT_DECRYPT"
	keySpecSymmetric       = "SYMMETRIC_DEFAULT"
	originAWSKMS           = "AWS_KMS"
	keyManagerCustomer     = "CUSTOMER"
	algSymmetricDefault    = "SYMMETRIC_DEFAULT"
	rotationAutomatic      = "AUTOMATIC"
	rotationOnDemand       = "ON_DEMAND"
)

// maxIDInError bounds how much of a caller's key ID an error repeats.
const maxIDInError = 256

// keyARN returns arn:aws:kms:<region>:<account>:key/<uuid>.
func (k *Keyring) keyARN(id uuid.UUID) string {
	return k.arnPrefix() + "key/" + id.String()
}

// aliasARN returns arn:aws:kms:<region>:<account>:alias/<name>.
func (k *Keyring) aliasARN(name string) string {
	return k.arnPrefix() + name
}

func (k *Keyring) arnPrefix() string {
	return "arn:aws:kms:" + k.opts.Region + ":" + k.opts.Account + ":"
}

// notFound names the id the caller gave, shortened if absurdly long.
func notFound(id string) error {
	return fmt.Errorf("%w: %q", keyring.ErrNotFound, truncate(id))
}

// lookup resolves a key ID, key ARN, alias name or alias ARN to a key. The
// caller holds k.mu.
func (k *Keyring) lookup(id string) (*keyEntry, error) {
	if id == "" {
		return nil, fmt.Errorf("%w: KeyId is required", keyring.ErrValidation)
	}
	ref := id
	if rest, ok := strings.CutPrefix(id, k.arnPrefix()); ok {
		ref = rest
	} else if strings.HasPrefix(id, "arn:") {
		return nil, notFound(id)
	}
	if strings.HasPrefix(ref, "alias/") {
		a, ok := k.aliases[ref]
		if !ok {
			return nil, notFound(id)
		}
		ref = a.Target.String()
	} else if rest, ok := strings.CutPrefix(ref, "key/"); ok && ref != id {
		ref = rest
	} else if ref != id {
		return nil, notFound(id) // an ARN of some other resource type
	}
	u, ok := parseKeyID(ref)
	if !ok {
		return nil, notFound(id)
	}
	e, ok := k.keys[u]
	if !ok {
		return nil, notFound(id)
	}
	return e, nil
}

// lookupKeyOnly resolves a key ID or key ARN but not an alias, as AWS
// requires for TargetKeyId.
func (k *Keyring) lookupKeyOnly(id string) (*keyEntry, error) {
	if strings.HasPrefix(id, "alias/") || strings.HasPrefix(id, k.arnPrefix()+"alias/") {
		return nil, fmt.Errorf("%w: %q must be a key ID or key ARN, not an alias", keyring.ErrValidation, id)
	}
	return k.lookup(id)
}

// parseKeyID accepts only the canonical 36-character UUID form, so that a
// key has exactly one key ID spelling (case aside).
func parseKeyID(s string) (uuid.UUID, bool) {
	if len(s) != 36 {
		return uuid.UUID{}, false
	}
	u, err := uuid.Parse(s)
	return u, err == nil
}

// validAliasName applies AWS's rules: "alias/" then 1 to 250 characters of
// [A-Za-z0-9/_-], at most 256 in all, and not in the reserved "alias/aws/".
func validAliasName(name string) error {
	rest, ok := strings.CutPrefix(name, "alias/")
	switch {
	case !ok || rest == "" || len(name) > 256:
		return fmt.Errorf("%w: %q", keyring.ErrInvalidAliasName, truncate(name))
	case strings.HasPrefix(name, "alias/aws/"):
		return fmt.Errorf("%w: %q: the prefix alias/aws/ is reserved", keyring.ErrInvalidAliasName, name)
	}
	for _, c := range []byte(rest) {
		if !isAliasChar(c) {
			return fmt.Errorf("%w: %q", keyring.ErrInvalidAliasName, name)
		}
	}
	return nil
}

func isAliasChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '/' || c == '_' || c == '-'
}

func truncate(s string) string {
	if len(s) > maxIDInError {
		return s[:maxIDInError] + "..."
	}
	return s
}
