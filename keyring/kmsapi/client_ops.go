package kmsapi

import (
	"context"

	"github.com/kmsfs/kmsfs/keyring"
)

// The methods below implement [keyring.Service]; each is one request whose
// target names the operation (TrentService.* for AWS operations,
// KmsfsService.* for kmsfs extensions).

// Encrypt implements [keyring.Crypto].
func (c *Client) Encrypt(ctx context.Context, in *keyring.EncryptInput) (*keyring.EncryptOutput, error) {
	return call[keyring.EncryptOutput](ctx, c, trentPrefix+"Encrypt", in)
}

// Decrypt implements [keyring.Crypto].
func (c *Client) Decrypt(ctx context.Context, in *keyring.DecryptInput) (*keyring.DecryptOutput, error) {
	return call[keyring.DecryptOutput](ctx, c, trentPrefix+"Decrypt", in)
}

// ReEncrypt implements [keyring.Crypto].
func (c *Client) ReEncrypt(ctx context.Context, in *keyring.ReEncryptInput) (*keyring.ReEncryptOutput, error) {
	return call[keyring.ReEncryptOutput](ctx, c, trentPrefix+"ReEncrypt", in)
}

// GenerateDataKey implements [keyring.Crypto].
func (c *Client) GenerateDataKey(ctx context.Context, in *keyring.GenerateDataKeyInput) (*keyring.GenerateDataKeyOutput, error) {
	return call[keyring.GenerateDataKeyOutput](ctx, c, trentPrefix+"GenerateDataKey", in)
}

// GenerateDataKeyWithoutPlaintext implements [keyring.Crypto].
func (c *Client) GenerateDataKeyWithoutPlaintext(ctx context.Context, in *keyring.GenerateDataKeyInput) (*keyring.GenerateDataKeyWithoutPlaintextOutput, error) {
	return call[keyring.GenerateDataKeyWithoutPlaintextOutput](ctx, c, trentPrefix+"GenerateDataKeyWithoutPlaintext", in)
}

// WrapDEK implements [keyring.Crypto] (kmsfs extension).
func (c *Client) WrapDEK(ctx context.Context, in *keyring.WrapDEKInput) (*keyring.WrapDEKOutput, error) {
	return call[keyring.WrapDEKOutput](ctx, c, kmsfsPrefix+"WrapDEK", in)
}

// UnwrapDEK implements [keyring.Crypto] (kmsfs extension).
func (c *Client) UnwrapDEK(ctx context.Context, in *keyring.UnwrapDEKInput) (*keyring.UnwrapDEKOutput, error) {
	return call[keyring.UnwrapDEKOutput](ctx, c, kmsfsPrefix+"UnwrapDEK", in)
}

// CreateKey implements [keyring.Admin].
func (c *Client) CreateKey(ctx context.Context, in *keyring.CreateKeyInput) (*keyring.KeyMetadataOutput, error) {
	return call[keyring.KeyMetadataOutput](ctx, c, trentPrefix+"CreateKey", in)
}

// DescribeKey implements [keyring.Admin].
func (c *Client) DescribeKey(ctx context.Context, in *keyring.KeyIDInput) (*keyring.KeyMetadataOutput, error) {
	return call[keyring.KeyMetadataOutput](ctx, c, trentPrefix+"DescribeKey", in)
}

// ListKeys implements [keyring.Admin].
func (c *Client) ListKeys(ctx context.Context, in *keyring.ListInput) (*keyring.ListKeysOutput, error) {
	return call[keyring.ListKeysOutput](ctx, c, trentPrefix+"ListKeys", in)
}

// EnableKey implements [keyring.Admin].
func (c *Client) EnableKey(ctx context.Context, in *keyring.KeyIDInput) error {
	return callVoid(ctx, c, trentPrefix+"EnableKey", in)
}

// DisableKey implements [keyring.Admin].
func (c *Client) DisableKey(ctx context.Context, in *keyring.KeyIDInput) error {
	return callVoid(ctx, c, trentPrefix+"DisableKey", in)
}

// EnableKeyRotation implements [keyring.Admin].
func (c *Client) EnableKeyRotation(ctx context.Context, in *keyring.EnableKeyRotationInput) error {
	return callVoid(ctx, c, trentPrefix+"EnableKeyRotation", in)
}

// DisableKeyRotation implements [keyring.Admin].
func (c *Client) DisableKeyRotation(ctx context.Context, in *keyring.KeyIDInput) error {
	return callVoid(ctx, c, trentPrefix+"DisableKeyRotation", in)
}

// GetKeyRotationStatus implements [keyring.Admin].
func (c *Client) GetKeyRotationStatus(ctx context.Context, in *keyring.KeyIDInput) (*keyring.GetKeyRotationStatusOutput, error) {
	return call[keyring.GetKeyRotationStatusOutput](ctx, c, trentPrefix+"GetKeyRotationStatus", in)
}

// RotateKeyOnDemand implements [keyring.Admin].
func (c *Client) RotateKeyOnDemand(ctx context.Context, in *keyring.KeyIDInput) (*keyring.RotateKeyOnDemandOutput, error) {
	return call[keyring.RotateKeyOnDemandOutput](ctx, c, trentPrefix+"RotateKeyOnDemand", in)
}

// ListKeyRotations implements [keyring.Admin].
func (c *Client) ListKeyRotations(ctx context.Context, in *keyring.ListKeyRotationsInput) (*keyring.ListKeyRotationsOutput, error) {
	return call[keyring.ListKeyRotationsOutput](ctx, c, trentPrefix+"ListKeyRotations", in)
}

// ScheduleKeyDeletion implements [keyring.Admin].
func (c *Client) ScheduleKeyDeletion(ctx context.Context, in *keyring.ScheduleKeyDeletionInput) (*keyring.ScheduleKeyDeletionOutput, error) {
	return call[keyring.ScheduleKeyDeletionOutput](ctx, c, trentPrefix+"ScheduleKeyDeletion", in)
}

// CancelKeyDeletion implements [keyring.Admin].
func (c *Client) CancelKeyDeletion(ctx context.Context, in *keyring.KeyIDInput) (*keyring.CancelKeyDeletionOutput, error) {
	return call[keyring.CancelKeyDeletionOutput](ctx, c, trentPrefix+"CancelKeyDeletion", in)
}

// CreateAlias implements [keyring.Admin].
func (c *Client) CreateAlias(ctx context.Context, in *keyring.AliasInput) error {
	return callVoid(ctx, c, trentPrefix+"CreateAlias", in)
}

// UpdateAlias implements [keyring.Admin].
func (c *Client) UpdateAlias(ctx context.Context, in *keyring.AliasInput) error {
	return callVoid(ctx, c, trentPrefix+"UpdateAlias", in)
}

// DeleteAlias implements [keyring.Admin].
func (c *Client) DeleteAlias(ctx context.Context, in *keyring.AliasInput) error {
	return callVoid(ctx, c, trentPrefix+"DeleteAlias", in)
}

// ListAliases implements [keyring.Admin].
func (c *Client) ListAliases(ctx context.Context, in *keyring.ListAliasesInput) (*keyring.ListAliasesOutput, error) {
	return call[keyring.ListAliasesOutput](ctx, c, trentPrefix+"ListAliases", in)
}
