package kmsapi

import (
	"context"

	"github.com/kmsfs/kmsfs/keyring"
)

// Asymmetric, HMAC and imported keys (TrentService.*, as AWS KMS). Each
// group is served when the service has its role, as in records.go.

var (
	_ keyring.Asymmetric = (*Client)(nil)
	_ keyring.Macer      = (*Client)(nil)
	_ keyring.Importer   = (*Client)(nil)
	_ keyring.Replicator = (*Client)(nil)
)

const (
	targetSign                                = trentPrefix + "Sign"
	targetVerify                              = trentPrefix + "Verify"
	targetGetPublicKey                        = trentPrefix + "GetPublicKey"
	targetDeriveSharedSecret                  = trentPrefix + "DeriveSharedSecret"
	targetGenerateDataKeyPair                 = trentPrefix + "GenerateDataKeyPair"
	targetGenerateDataKeyPairWithoutPlaintext = trentPrefix + "GenerateDataKeyPairWithoutPlaintext"
	targetGenerateMac                         = trentPrefix + "GenerateMac"
	targetVerifyMac                           = trentPrefix + "VerifyMac"
	targetGetParametersForImport              = trentPrefix + "GetParametersForImport"
	targetImportKeyMaterial                   = trentPrefix + "ImportKeyMaterial"
	targetDeleteImportedKeyMaterial           = trentPrefix + "DeleteImportedKeyMaterial"
	targetReplicateKey                        = trentPrefix + "ReplicateKey"
	targetUpdatePrimaryRegion                 = trentPrefix + "UpdatePrimaryRegion"
)

// keyTypeOps serves the roles of this file that svc has.
func keyTypeOps(svc keyring.Service) map[string]endpoint {
	ops := map[string]endpoint{}
	if a, ok := svc.(keyring.Asymmetric); ok {
		ops[targetSign] = op(a.Sign)
		ops[targetVerify] = op(a.Verify)
		ops[targetGetPublicKey] = op(a.GetPublicKey)
		ops[targetDeriveSharedSecret] = wipingOp(a.DeriveSharedSecret, wipeDeriveSharedSecret)
		ops[targetGenerateDataKeyPair] = wipingOp(a.GenerateDataKeyPair, wipeGenerateDataKeyPair)
		ops[targetGenerateDataKeyPairWithoutPlaintext] = op(a.GenerateDataKeyPairWithoutPlaintext)
	}
	if m, ok := svc.(keyring.Macer); ok {
		ops[targetGenerateMac] = op(m.GenerateMac)
		ops[targetVerifyMac] = op(m.VerifyMac)
	}
	if i, ok := svc.(keyring.Importer); ok {
		ops[targetGetParametersForImport] = op(i.GetParametersForImport)
		ops[targetImportKeyMaterial] = op(i.ImportKeyMaterial)
		ops[targetDeleteImportedKeyMaterial] = op(i.DeleteImportedKeyMaterial)
	}
	if r, ok := svc.(keyring.Replicator); ok {
		ops[targetReplicateKey] = op(r.ReplicateKey)
		ops[targetUpdatePrimaryRegion] = voidOp(r.UpdatePrimaryRegion)
	}
	return ops
}

func wipeDeriveSharedSecret(_ *keyring.DeriveSharedSecretInput, out *keyring.DeriveSharedSecretOutput) {
	if out != nil {
		clear(out.SharedSecret)
	}
}

func wipeGenerateDataKeyPair(_ *keyring.GenerateDataKeyPairInput, out *keyring.GenerateDataKeyPairOutput) {
	if out != nil {
		clear(out.PrivateKeyPlaintext)
	}
}

// Sign implements [keyring.Asymmetric] over the wire.
func (c *Client) Sign(ctx context.Context, in *keyring.SignInput) (*keyring.SignOutput, error) {
	return call[keyring.SignOutput](ctx, c, targetSign, in)
}

// Verify implements [keyring.Asymmetric] over the wire.
func (c *Client) Verify(ctx context.Context, in *keyring.VerifyInput) (*keyring.VerifyOutput, error) {
	return call[keyring.VerifyOutput](ctx, c, targetVerify, in)
}

// GetPublicKey implements [keyring.Asymmetric] over the wire.
func (c *Client) GetPublicKey(ctx context.Context, in *keyring.GetPublicKeyInput) (*keyring.GetPublicKeyOutput, error) {
	return call[keyring.GetPublicKeyOutput](ctx, c, targetGetPublicKey, in)
}

// DeriveSharedSecret implements [keyring.Asymmetric] over the wire.
func (c *Client) DeriveSharedSecret(ctx context.Context, in *keyring.DeriveSharedSecretInput) (*keyring.DeriveSharedSecretOutput, error) {
	return call[keyring.DeriveSharedSecretOutput](ctx, c, targetDeriveSharedSecret, in)
}

// GenerateDataKeyPair implements [keyring.Asymmetric] over the wire.
func (c *Client) GenerateDataKeyPair(ctx context.Context, in *keyring.GenerateDataKeyPairInput) (*keyring.GenerateDataKeyPairOutput, error) {
	return call[keyring.GenerateDataKeyPairOutput](ctx, c, targetGenerateDataKeyPair, in)
}

// GenerateDataKeyPairWithoutPlaintext implements [keyring.Asymmetric] over
// the wire.
func (c *Client) GenerateDataKeyPairWithoutPlaintext(ctx context.Context, in *keyring.GenerateDataKeyPairInput) (*keyring.GenerateDataKeyPairWithoutPlaintextOutput, error) {
	return call[keyring.GenerateDataKeyPairWithoutPlaintextOutput](ctx, c, targetGenerateDataKeyPairWithoutPlaintext, in)
}

// GenerateMac implements [keyring.Macer] over the wire.
func (c *Client) GenerateMac(ctx context.Context, in *keyring.GenerateMacInput) (*keyring.GenerateMacOutput, error) {
	return call[keyring.GenerateMacOutput](ctx, c, targetGenerateMac, in)
}

// VerifyMac implements [keyring.Macer] over the wire.
func (c *Client) VerifyMac(ctx context.Context, in *keyring.VerifyMacInput) (*keyring.VerifyMacOutput, error) {
	return call[keyring.VerifyMacOutput](ctx, c, targetVerifyMac, in)
}

// GetParametersForImport implements [keyring.Importer] over the wire.
func (c *Client) GetParametersForImport(ctx context.Context, in *keyring.GetParametersForImportInput) (*keyring.GetParametersForImportOutput, error) {
	return call[keyring.GetParametersForImportOutput](ctx, c, targetGetParametersForImport, in)
}

// ImportKeyMaterial implements [keyring.Importer] over the wire.
func (c *Client) ImportKeyMaterial(ctx context.Context, in *keyring.ImportKeyMaterialInput) (*keyring.ImportKeyMaterialOutput, error) {
	return call[keyring.ImportKeyMaterialOutput](ctx, c, targetImportKeyMaterial, in)
}

// DeleteImportedKeyMaterial implements [keyring.Importer] over the wire.
func (c *Client) DeleteImportedKeyMaterial(ctx context.Context, in *keyring.KeyIDInput) (*keyring.DeleteImportedKeyMaterialOutput, error) {
	return call[keyring.DeleteImportedKeyMaterialOutput](ctx, c, targetDeleteImportedKeyMaterial, in)
}

// ReplicateKey implements [keyring.Replicator] over the wire.
func (c *Client) ReplicateKey(ctx context.Context, in *keyring.ReplicateKeyInput) (*keyring.ReplicateKeyOutput, error) {
	return call[keyring.ReplicateKeyOutput](ctx, c, targetReplicateKey, in)
}

// UpdatePrimaryRegion implements [keyring.Replicator] over the wire.
func (c *Client) UpdatePrimaryRegion(ctx context.Context, in *keyring.UpdatePrimaryRegionInput) error {
	return callVoid(ctx, c, targetUpdatePrimaryRegion, in)
}
