package kmsapi

import (
	"context"

	"github.com/kmsfs/kmsfs/keyring"
)

// Key policies, tags, descriptions and grants (TrentService.*, as AWS
// KMS), and access keys (KmsfsService.*, kmsfs extensions). Each group is
// served when the service has its role; a service without it answers
// UnknownOperationException, as for any operation it does not know.
// LookupAccessKey and AppendAudit are never served: they are for the
// transport in the server's own process.

var (
	_ keyring.KeyPolicies = (*Client)(nil)
	_ keyring.Tagger      = (*Client)(nil)
	_ keyring.Describer   = (*Client)(nil)
	_ keyring.Granter     = (*Client)(nil)
	_ keyring.AccessKeys  = (*Client)(nil)
)

const (
	targetGetKeyPolicy         = trentPrefix + "GetKeyPolicy"
	targetPutKeyPolicy         = trentPrefix + "PutKeyPolicy"
	targetListKeyPolicies      = trentPrefix + "ListKeyPolicies"
	targetTagResource          = trentPrefix + "TagResource"
	targetUntagResource        = trentPrefix + "UntagResource"
	targetListResourceTags     = trentPrefix + "ListResourceTags"
	targetUpdateKeyDescription = trentPrefix + "UpdateKeyDescription"
	targetGetKeyLastUsage      = trentPrefix + "GetKeyLastUsage"
	targetCreateGrant          = trentPrefix + "CreateGrant"
	targetListGrants           = trentPrefix + "ListGrants"
	targetListRetirableGrants  = trentPrefix + "ListRetirableGrants"
	targetRetireGrant          = trentPrefix + "RetireGrant"
	targetRevokeGrant          = trentPrefix + "RevokeGrant"
	targetCreateAccessKey      = kmsfsPrefix + "CreateAccessKey"
	targetListAccessKeys       = kmsfsPrefix + "ListAccessKeys"
	targetDeleteAccessKey      = kmsfsPrefix + "DeleteAccessKey"
	targetUpdateAccessKey      = kmsfsPrefix + "UpdateAccessKey"
)

// recordOps serves the roles of this file that svc has.
func recordOps(svc keyring.Service) map[string]endpoint {
	ops := map[string]endpoint{}
	if p, ok := svc.(keyring.KeyPolicies); ok {
		ops[targetGetKeyPolicy] = op(p.GetKeyPolicy)
		ops[targetPutKeyPolicy] = voidOp(p.PutKeyPolicy)
		ops[targetListKeyPolicies] = op(p.ListKeyPolicies)
	}
	if t, ok := svc.(keyring.Tagger); ok {
		ops[targetTagResource] = voidOp(t.TagResource)
		ops[targetUntagResource] = voidOp(t.UntagResource)
		ops[targetListResourceTags] = op(t.ListResourceTags)
	}
	if d, ok := svc.(keyring.Describer); ok {
		ops[targetUpdateKeyDescription] = voidOp(d.UpdateKeyDescription)
	}
	if u, ok := svc.(keyring.UsageReporter); ok {
		ops[targetGetKeyLastUsage] = op(u.GetKeyLastUsage)
	}
	if g, ok := svc.(keyring.Granter); ok {
		ops[targetCreateGrant] = op(g.CreateGrant)
		ops[targetListGrants] = op(g.ListGrants)
		ops[targetListRetirableGrants] = op(g.ListRetirableGrants)
		ops[targetRetireGrant] = voidOp(g.RetireGrant)
		ops[targetRevokeGrant] = voidOp(g.RevokeGrant)
	}
	if a, ok := svc.(keyring.AccessKeys); ok {
		ops[targetCreateAccessKey] = op(a.CreateAccessKey)
		ops[targetListAccessKeys] = op(a.ListAccessKeys)
		ops[targetDeleteAccessKey] = voidOp(a.DeleteAccessKey)
		ops[targetUpdateAccessKey] = voidOp(a.UpdateAccessKey)
	}
	return ops
}

// GetKeyPolicy implements [keyring.KeyPolicies] over the wire.
func (c *Client) GetKeyPolicy(ctx context.Context, in *keyring.GetKeyPolicyInput) (*keyring.GetKeyPolicyOutput, error) {
	return call[keyring.GetKeyPolicyOutput](ctx, c, targetGetKeyPolicy, in)
}

// PutKeyPolicy implements [keyring.KeyPolicies] over the wire.
func (c *Client) PutKeyPolicy(ctx context.Context, in *keyring.PutKeyPolicyInput) error {
	return callVoid(ctx, c, targetPutKeyPolicy, in)
}

// ListKeyPolicies implements [keyring.KeyPolicies] over the wire.
func (c *Client) ListKeyPolicies(ctx context.Context, in *keyring.ListKeyPoliciesInput) (*keyring.ListKeyPoliciesOutput, error) {
	return call[keyring.ListKeyPoliciesOutput](ctx, c, targetListKeyPolicies, in)
}

// TagResource implements [keyring.Tagger] over the wire.
func (c *Client) TagResource(ctx context.Context, in *keyring.TagResourceInput) error {
	return callVoid(ctx, c, targetTagResource, in)
}

// UntagResource implements [keyring.Tagger] over the wire.
func (c *Client) UntagResource(ctx context.Context, in *keyring.UntagResourceInput) error {
	return callVoid(ctx, c, targetUntagResource, in)
}

// ListResourceTags implements [keyring.Tagger] over the wire.
func (c *Client) ListResourceTags(ctx context.Context, in *keyring.ListResourceTagsInput) (*keyring.ListResourceTagsOutput, error) {
	return call[keyring.ListResourceTagsOutput](ctx, c, targetListResourceTags, in)
}

// UpdateKeyDescription implements [keyring.Describer] over the wire.
func (c *Client) UpdateKeyDescription(ctx context.Context, in *keyring.UpdateKeyDescriptionInput) error {
	return callVoid(ctx, c, targetUpdateKeyDescription, in)
}

// GetKeyLastUsage implements [keyring.UsageReporter] over the wire.
func (c *Client) GetKeyLastUsage(ctx context.Context, in *keyring.GetKeyLastUsageInput) (*keyring.GetKeyLastUsageOutput, error) {
	return call[keyring.GetKeyLastUsageOutput](ctx, c, targetGetKeyLastUsage, in)
}

// CreateGrant implements [keyring.Granter] over the wire.
func (c *Client) CreateGrant(ctx context.Context, in *keyring.CreateGrantInput) (*keyring.CreateGrantOutput, error) {
	return call[keyring.CreateGrantOutput](ctx, c, targetCreateGrant, in)
}

// ListGrants implements [keyring.Granter] over the wire.
func (c *Client) ListGrants(ctx context.Context, in *keyring.ListGrantsInput) (*keyring.ListGrantsOutput, error) {
	return call[keyring.ListGrantsOutput](ctx, c, targetListGrants, in)
}

// ListRetirableGrants implements [keyring.Granter] over the wire.
func (c *Client) ListRetirableGrants(ctx context.Context, in *keyring.ListRetirableGrantsInput) (*keyring.ListGrantsOutput, error) {
	return call[keyring.ListGrantsOutput](ctx, c, targetListRetirableGrants, in)
}

// RetireGrant implements [keyring.Granter] over the wire.
func (c *Client) RetireGrant(ctx context.Context, in *keyring.RetireGrantInput) error {
	return callVoid(ctx, c, targetRetireGrant, in)
}

// RevokeGrant implements [keyring.Granter] over the wire.
func (c *Client) RevokeGrant(ctx context.Context, in *keyring.RevokeGrantInput) error {
	return callVoid(ctx, c, targetRevokeGrant, in)
}

// CreateAccessKey implements [keyring.AccessKeys] over the wire. The
// secret is in the answer once.
func (c *Client) CreateAccessKey(ctx context.Context, in *keyring.CreateAccessKeyInput) (*keyring.CreateAccessKeyOutput, error) {
	return call[keyring.CreateAccessKeyOutput](ctx, c, targetCreateAccessKey, in)
}

// ListAccessKeys implements [keyring.AccessKeys] over the wire.
func (c *Client) ListAccessKeys(ctx context.Context, in *keyring.ListAccessKeysInput) (*keyring.ListAccessKeysOutput, error) {
	return call[keyring.ListAccessKeysOutput](ctx, c, targetListAccessKeys, in)
}

// DeleteAccessKey implements [keyring.AccessKeys] over the wire.
func (c *Client) DeleteAccessKey(ctx context.Context, in *keyring.AccessKeyIDInput) error {
	return callVoid(ctx, c, targetDeleteAccessKey, in)
}

// UpdateAccessKey implements [keyring.AccessKeys] over the wire.
func (c *Client) UpdateAccessKey(ctx context.Context, in *keyring.UpdateAccessKeyInput) error {
	return callVoid(ctx, c, targetUpdateAccessKey, in)
}
