package local

import (
	"context"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"github.com/kmsfs/kmsfs/keyring"
)

// AWS constants of customer keys and their symmetric operations.
const (
	keyManagerCustomer  = "CUSTOMER"
	algSymmetricDefault = "SYMMETRIC_DEFAULT"
	rotationAutomatic   = "AUTOMATIC"
	rotationOnDemand    = "ON_DEMAND"
)

// maxIDInError bounds how much of a caller's key ID an error repeats.
const maxIDInError = 256

// keyARN returns arn:aws:kms:<region>:<account>:key/<key ID> for the
// record's region and key ID.
func (k *Keyring) keyARN(r *keyRecord) string {
	return k.arnPrefixIn(r.Region) + "key/" + r.keyID()
}

// keyID is the key ID callers see: the UUID, or mrk-<32 hex> for a
// multi-Region key.
func (r *keyRecord) keyID() string {
	if r.MultiRegion != "" {
		return keyring.MultiRegionKeyIDPrefix + hex.EncodeToString(r.ID[:])
	}
	return r.ID.String()
}

// regionName is the name of an internal region ("" is the default).
func (k *Keyring) regionName(region string) string {
	if region == "" {
		return k.opts.Region
	}
	return region
}

func (k *Keyring) arnPrefixIn(region string) string {
	return "arn:aws:kms:" + k.regionName(region) + ":" + k.opts.Account + ":"
}

// notFound names the id the caller gave, shortened if absurdly long.
func notFound(id string) error {
	return fmt.Errorf("%w: %q", keyring.ErrNotFound, truncate(id))
}

// lookup resolves a key ID, key ARN, alias name or alias ARN to a key of
// the request's region (regionOf). The caller holds k.mu.
func (k *Keyring) lookup(ctx context.Context, id string) (*keyEntry, error) {
	return k.lookupIn(k.regionOf(ctx), id)
}

// lookupIn is lookup in one region.
func (k *Keyring) lookupIn(region, id string) (*keyEntry, error) {
	if id == "" {
		return nil, fmt.Errorf("%w: KeyId is required", keyring.ErrValidation)
	}
	ref := id
	if strings.HasPrefix(id, "arn:") { // built only for an ARN: most callers name a key ID
		rest, ok := strings.CutPrefix(id, k.arnPrefixIn(region))
		if !ok {
			return nil, notFound(id)
		}
		ref = rest
	}
	if strings.HasPrefix(ref, "alias/") {
		a, ok := k.aliases[ref]
		if !ok || a.Region != region {
			return nil, notFound(id)
		}
		ref = a.Target.String()
	} else if rest, ok := strings.CutPrefix(ref, "key/"); ok && ref != id {
		ref = rest
	} else if ref != id {
		return nil, notFound(id) // an ARN of some other resource type
	}
	u, mrk, ok := parseAnyKeyID(ref)
	if !ok {
		return nil, notFound(id)
	}
	e, ok := k.keys[keyRef{Region: region, ID: u}]
	if !ok || mrk && e.rec.MultiRegion == "" {
		return nil, notFound(id)
	}
	return e, nil
}

// lookupKeyOnly resolves a key ID or key ARN but not an alias, as AWS
// requires for TargetKeyId.
func (k *Keyring) lookupKeyOnly(ctx context.Context, id string) (*keyEntry, error) {
	if strings.HasPrefix(id, "alias/") || strings.HasPrefix(id, "arn:") && strings.Contains(id, ":alias/") {
		return nil, fmt.Errorf("%w: %q must be a key ID or key ARN, not an alias", keyring.ErrValidation, id)
	}
	return k.lookup(ctx, id)
}

// parseAnyKeyID accepts a UUID (which also names a multi-Region key from
// inside: ciphertext blobs carry the 16 bytes) or mrk-<32 hex>.
func parseAnyKeyID(s string) (u uuid.UUID, mrk, ok bool) {
	if keyring.IsMultiRegionKeyID(s) {
		_, err := hex.Decode(u[:], []byte(s[len(keyring.MultiRegionKeyIDPrefix):]))
		return u, true, err == nil
	}
	u, ok = parseKeyID(s)
	return u, false, ok
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
