package local

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/kmsfs/kmsfs/keyring"
)

// Grants, stored in their key's record.
//
// A grant ID is 64 hex digits (32 random bytes), as AWS's look. A grant
// token names the grant: base64url, unpadded, of
//
//	0x01 || key UUID (16 bytes) || grant ID (32 bytes)
//
// It carries no authority (who may use or retire a grant is decided by
// principal), so it needs no MAC; a grant takes effect at once here, so the
// token is needed only to retire a grant by token.
const (
	grantIDBytes     = 32
	grantTokenV1     = 0x01
	grantTokenBytes  = 1 + 16 + grantIDBytes
	maxGrantTokens   = 10 // per request, as AWS
	maxGrantTokenLen = 8192
	// maxGrantsPerKey is kmsfs's limit (AWS's is 50,000): every grant is
	// rewritten with its key's record on each change.
	maxGrantsPerKey   = 500
	maxGrantNameLen   = 256
	maxPrincipalLen   = 256
	grantOpRetire     = "RetireGrant"
	retireGrantAction = "kms:RetireGrant"
)

var _ keyring.Granter = (*Keyring)(nil)

func grantToken(keyID uuid.UUID, grantID string) string {
	raw, err := hex.DecodeString(grantID)
	if err != nil || len(raw) != grantIDBytes {
		panic("keyring: internal error: bad grant ID")
	}
	b := append([]byte{grantTokenV1}, keyID[:]...)
	return base64.RawURLEncoding.EncodeToString(append(b, raw...))
}

// parseGrantToken returns the key and grant a token names.
func parseGrantToken(t string) (uuid.UUID, string, error) {
	b, err := base64.RawURLEncoding.Strict().DecodeString(t)
	if err != nil || len(b) != grantTokenBytes || b[0] != grantTokenV1 {
		return uuid.UUID{}, "", fmt.Errorf("%w: %q", keyring.ErrInvalidGrantToken, truncate(t))
	}
	return uuid.UUID(b[1:17]), hex.EncodeToString(b[17:]), nil
}

// checkGrantTokens validates a request's GrantTokens, as AWS does.
func checkGrantTokens(tokens []string) error {
	if len(tokens) > maxGrantTokens {
		return fmt.Errorf("%w: at most %d grant tokens", keyring.ErrValidation, maxGrantTokens)
	}
	for _, t := range tokens {
		if len(t) > maxGrantTokenLen {
			return fmt.Errorf("%w: grant token longer than %d", keyring.ErrInvalidGrantToken, maxGrantTokenLen)
		}
		if _, _, err := parseGrantToken(t); err != nil {
			return err
		}
	}
	return nil
}

func validGrantID(id string) error {
	if b, err := hex.DecodeString(id); err != nil || len(b) != grantIDBytes || strings.ToLower(id) != id {
		return fmt.Errorf("%w: %q", keyring.ErrInvalidGrantID, truncate(id))
	}
	return nil
}

// validPrincipal accepts an ARN (arn:partition:service:region:account:
// resource) or a service principal (name.amazonaws.com).
func validPrincipal(member, p string) error {
	if p == "" || len(p) > maxPrincipalLen {
		return fmt.Errorf("%w: %s must be 1 to %d characters", keyring.ErrValidation, member, maxPrincipalLen)
	}
	if strings.HasPrefix(p, "arn:") && len(strings.SplitN(p, ":", 6)) == 6 || strings.HasSuffix(p, ".amazonaws.com") {
		return nil
	}
	return fmt.Errorf("%w: %s %q", keyring.ErrInvalidArn, member, truncate(p))
}

func validGrantName(n string) error {
	if len(n) > maxGrantNameLen {
		return fmt.Errorf("%w: Name longer than %d", keyring.ErrValidation, maxGrantNameLen)
	}
	for _, c := range []byte(n) {
		if !isAliasChar(c) && c != ':' {
			return fmt.Errorf("%w: Name %q has characters outside [a-zA-Z0-9:/_-]", keyring.ErrValidation, truncate(n))
		}
	}
	return nil
}

func validateGrant(in *keyring.CreateGrantInput) error {
	if err := validPrincipal("GranteePrincipal", in.GranteePrincipal); err != nil {
		return err
	}
	if in.RetiringPrincipal != "" {
		if err := validPrincipal("RetiringPrincipal", in.RetiringPrincipal); err != nil {
			return err
		}
	}
	if len(in.Operations) == 0 {
		return fmt.Errorf("%w: Operations is required", keyring.ErrValidation)
	}
	for _, op := range in.Operations {
		if !slices.Contains(keyring.GrantOperations, op) {
			return fmt.Errorf("%w: operation %q is not a grant operation", keyring.ErrValidation, truncate(op))
		}
	}
	if c := in.Constraints; c != nil {
		if len(c.EncryptionContextEquals) > 0 && len(c.EncryptionContextSubset) > 0 {
			return fmt.Errorf("%w: a grant takes one of EncryptionContextEquals and EncryptionContextSubset", keyring.ErrValidation)
		}
		for _, m := range []map[string]string{c.EncryptionContextEquals, c.EncryptionContextSubset} {
			if _, err := keyring.EncodeContext(m); err != nil {
				return err
			}
		}
	}
	return validGrantName(in.Name)
}

// grantsOf renders a key's grants as AWS lists them (KeyId is the ARN).
func (k *Keyring) grantsOf(rec *keyRecord) []keyring.Grant {
	out := make([]keyring.Grant, 0, len(rec.Grants))
	for _, g := range rec.Grants {
		out = append(out, k.grantOut(rec, g))
	}
	return out
}

func (k *Keyring) grantOut(rec *keyRecord, g grantRecord) keyring.Grant {
	out := keyring.Grant{KeyId: k.keyARN(rec), GrantId: g.ID, Name: g.Name, CreationDate: keyring.EpochTime{Time: g.Created},
		GranteePrincipal: g.Grantee, RetiringPrincipal: g.Retiring, IssuingAccount: g.Issuing,
		Operations: slices.Clone(g.Operations)}
	if g.Constraints != nil {
		out.Constraints = &keyring.GrantConstraints{EncryptionContextSubset: maps.Clone(g.Constraints.EncryptionContextSubset),
			EncryptionContextEquals: maps.Clone(g.Constraints.EncryptionContextEquals)}
	}
	return out
}

// sameGrant reports whether g is what in asks for (CreateGrant's
// idempotence by Name).
func sameGrant(g grantRecord, in *keyring.CreateGrantInput) bool {
	ops := slices.Sorted(slices.Values(in.Operations))
	var c1, c2 keyring.GrantConstraints
	if g.Constraints != nil {
		c1 = *g.Constraints
	}
	if in.Constraints != nil {
		c2 = *in.Constraints
	}
	return g.Name == in.Name && g.Grantee == in.GranteePrincipal && g.Retiring == in.RetiringPrincipal &&
		slices.Equal(g.Operations, slices.Compact(ops)) &&
		maps.Equal(c1.EncryptionContextEquals, c2.EncryptionContextEquals) &&
		maps.Equal(c1.EncryptionContextSubset, c2.EncryptionContextSubset)
}

// CreateGrant adds a grant to a key, or with a Name that an identical grant
// of the key has, returns that grant.
func (k *Keyring) CreateGrant(ctx context.Context, in *keyring.CreateGrantInput) (*keyring.CreateGrantOutput, error) {
	if err := validateGrant(in); err != nil {
		return nil, err
	}
	if err := checkGrantTokens(in.GrantTokens); err != nil {
		return nil, err
	}
	raw, err := randomBytes(k.opts.Rand, grantIDBytes)
	if err != nil {
		return nil, err
	}
	g := grantRecord{ID: hex.EncodeToString(raw), Name: in.Name, Grantee: in.GranteePrincipal, Retiring: in.RetiringPrincipal,
		Operations: slices.Compact(slices.Sorted(slices.Values(in.Operations)))}
	if c := in.Constraints; c != nil && (len(c.EncryptionContextEquals) > 0 || len(c.EncryptionContextSubset) > 0) {
		g.Constraints = &keyring.GrantConstraints{EncryptionContextEquals: maps.Clone(c.EncryptionContextEquals),
			EncryptionContextSubset: maps.Clone(c.EncryptionContextSubset)}
	}
	rec, err := k.mutateAs(ctx, authz{op: "CreateGrant", keyID: in.KeyId, tokens: in.GrantTokens}, func(rec *keyRecord, now time.Time) error {
		// AWS's key state table: Disabled is DisabledException, pending
		// import or deletion KMSInvalidStateException.
		if err := usable(rec); err != nil {
			return err
		}
		for _, old := range rec.Grants {
			if in.Name != "" && sameGrant(old, in) {
				g = old
				return nil
			}
		}
		if len(rec.Grants) >= maxGrantsPerKey {
			return fmt.Errorf("%w: key %s has %d grants, the most it can have", keyring.ErrLimitExceeded, rec.ID, maxGrantsPerKey)
		}
		g.Created, g.Issuing = now, k.rootARN()
		rec.Grants = append(rec.Grants, g)
		slices.SortFunc(rec.Grants, func(a, b grantRecord) int { return strings.Compare(a.ID, b.ID) })
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &keyring.CreateGrantOutput{GrantId: g.ID, GrantToken: grantToken(rec.ID, g.ID)}, nil
}

// ListGrants lists a key's grants sorted by grant ID, optionally only one
// grant or one grantee's; Marker is a grant ID.
func (k *Keyring) ListGrants(ctx context.Context, in *keyring.ListGrantsInput) (*keyring.ListGrantsOutput, error) {
	if in.GrantId != "" {
		if err := validGrantID(in.GrantId); err != nil {
			return nil, err
		}
	}
	var out *keyring.ListGrantsOutput
	err := k.readKey(ctx, "ListGrants", in.KeyId, func(e *keyEntry) error {
		var sel []grantRecord
		for _, g := range e.rec.Grants {
			if (in.GrantId == "" || g.ID == in.GrantId) && (in.GranteePrincipal == "" || g.Grantee == in.GranteePrincipal) {
				sel = append(sel, g)
			}
		}
		page, next, err := paginate(sel, func(g grantRecord) string { return g.ID },
			func(m string) bool { return validGrantID(m) == nil }, in.Limit, in.Marker)
		out = &keyring.ListGrantsOutput{Grants: []keyring.Grant{}, NextMarker: next, Truncated: next != ""}
		for _, g := range page {
			out.Grants = append(out.Grants, k.grantOut(e.rec, g))
		}
		return err
	})
	return out, err
}

// ListRetirableGrants lists the grants of every key whose retiring
// principal is in.RetiringPrincipal, sorted by key and grant ID; Marker is
// "<key ID>/<grant ID>". It takes no key, so no Authorizer is asked.
func (k *Keyring) ListRetirableGrants(ctx context.Context, in *keyring.ListRetirableGrantsInput) (*keyring.ListGrantsOutput, error) {
	if err := validPrincipal("RetiringPrincipal", in.RetiringPrincipal); err != nil {
		return nil, err
	}
	if _, err := k.purgeDue(ctx, k.now()); err != nil {
		return nil, err
	}
	k.mu.RLock()
	defer k.mu.RUnlock()
	if k.closed {
		return nil, keyring.ErrClosed
	}
	type item struct {
		key string
		g   keyring.Grant
	}
	var all []item
	for _, e := range k.keys {
		for _, g := range e.rec.Grants {
			if g.Retiring == in.RetiringPrincipal {
				all = append(all, item{e.rec.ID.String() + "/" + g.ID, k.grantOut(e.rec, g)})
			}
		}
	}
	slices.SortFunc(all, func(a, b item) int { return strings.Compare(a.key, b.key) })
	page, next, err := paginate(all, func(it item) string { return it.key }, validRetirableMarker, in.Limit, in.Marker)
	if err != nil {
		return nil, err
	}
	out := &keyring.ListGrantsOutput{Grants: []keyring.Grant{}, NextMarker: next, Truncated: next != ""}
	for _, it := range page {
		out.Grants = append(out.Grants, it.g)
	}
	return out, nil
}

func validRetirableMarker(m string) bool {
	key, id, ok := strings.Cut(m, "/")
	return ok && validKeyMarker(key) && validGrantID(id) == nil
}

// RevokeGrant deletes a grant; the key policy decides who may
// (kms:RevokeGrant).
func (k *Keyring) RevokeGrant(ctx context.Context, in *keyring.RevokeGrantInput) error {
	if err := validGrantID(in.GrantId); err != nil {
		return err
	}
	_, err := k.mutate(ctx, "RevokeGrant", in.KeyId, func(rec *keyRecord, _ time.Time) error {
		return removeGrant(rec, in.GrantId)
	})
	return err
}

func removeGrant(rec *keyRecord, id string) error {
	i := slices.IndexFunc(rec.Grants, func(g grantRecord) bool { return g.ID == id })
	if i < 0 {
		return fmt.Errorf("%w: grant %s of key %s", keyring.ErrNotFound, id, rec.ID)
	}
	rec.Grants = slices.Delete(rec.Grants, i, i+1)
	if len(rec.Grants) == 0 {
		rec.Grants = nil
	}
	return nil
}

// RetireGrant deletes a grant named by token or by key and grant ID. With
// a principal and an Authorizer, the grant's retiring principal, its
// grantee when it allows RetireGrant, and the account root may; anyone
// else needs the key policy to allow kms:RetireGrant.
func (k *Keyring) RetireGrant(ctx context.Context, in *keyring.RetireGrantInput) error {
	keyID, grantID, err := retireTarget(in)
	if err != nil {
		return err
	}
	if err := k.mayRetire(ctx, keyID, grantID); err != nil {
		return err
	}
	_, err = k.mutateAs(ctx, authz{op: "RetireGrant", keyID: keyID, noAuthz: true}, func(rec *keyRecord, _ time.Time) error {
		return removeGrant(rec, grantID)
	})
	return err
}

// retireTarget returns the key and grant a RetireGrant names.
func retireTarget(in *keyring.RetireGrantInput) (keyID, grantID string, err error) {
	if in.GrantToken != "" {
		if len(in.GrantToken) > maxGrantTokenLen {
			return "", "", fmt.Errorf("%w: grant token longer than %d", keyring.ErrInvalidGrantToken, maxGrantTokenLen)
		}
		u, id, err := parseGrantToken(in.GrantToken)
		if err != nil {
			return "", "", err
		}
		return u.String(), id, nil
	}
	if in.KeyId == "" || in.GrantId == "" {
		return "", "", fmt.Errorf("%w: give GrantToken, or KeyId and GrantId", keyring.ErrValidation)
	}
	return in.KeyId, in.GrantId, validGrantID(in.GrantId)
}

// mayRetire applies RetireGrant's rule when a principal and an Authorizer
// are present.
func (k *Keyring) mayRetire(ctx context.Context, keyID, grantID string) error {
	box := k.authz.Load()
	p, ok := keyring.PrincipalFrom(ctx)
	if box == nil || !ok {
		return nil
	}
	req, keyUUID, found := k.authzRequest(ctx, p, authz{op: "RetireGrant", action: retireGrantAction, keyID: keyID})
	if !found {
		return nil
	}
	for _, g := range req.Grants {
		if g.GrantId != grantID {
			continue
		}
		if p.ARN == g.RetiringPrincipal || p.ARN == g.GranteePrincipal && slices.Contains(g.Operations, grantOpRetire) {
			return nil
		}
	}
	if p.ARN == k.rootARNLocked() {
		return nil
	}
	return k.decide(ctx, box.a, req, "RetireGrant", keyUUID)
}

// rootARNLocked is rootARN taking the shared lock.
func (k *Keyring) rootARNLocked() string {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.rootARN()
}

// validGrantRecord checks a grant from a bundle as CreateGrant would.
func validGrantRecord(g grantRecord) error {
	if err := validGrantID(g.ID); err != nil {
		return err
	}
	if !slices.IsSorted(g.Operations) || len(slices.Compact(slices.Clone(g.Operations))) != len(g.Operations) {
		return fmt.Errorf("%w: grant operations not sorted and unique", keyring.ErrValidation)
	}
	if g.Issuing != "" {
		if err := validPrincipal("IssuingAccount", g.Issuing); err != nil {
			return err
		}
	}
	return validateGrant(&keyring.CreateGrantInput{GranteePrincipal: g.Grantee, RetiringPrincipal: g.Retiring,
		Operations: g.Operations, Constraints: g.Constraints, Name: g.Name})
}
