package local

import (
	"context"

	"github.com/kmsfs/kmsfs/keyring"
	"github.com/kmsfs/kmsfs/keyring/keyspec"
)

var _ keyring.Macer = (*Keyring)(nil)

// GenerateMac returns the HMAC of a message under a GENERATE_VERIFY_MAC
// key, as AWS KMS's GenerateMac.
func (k *Keyring) GenerateMac(ctx context.Context, in *keyring.GenerateMacInput) (*keyring.GenerateMacOutput, error) {
	if err := k.authorize(ctx, authz{op: keyspec.OpGenerateMac, keyID: in.KeyId, tokens: in.GrantTokens}); err != nil {
		return nil, err
	}
	var mac []byte
	u, err := k.withMaterial(ctx, in.KeyId, keyspec.OpGenerateMac, func(m *keyspec.Material) error {
		if err := needMessage(in.Message); err != nil {
			return err
		}
		var err error
		mac, err = m.GenerateMac(in.MacAlgorithm, in.Message)
		return err
	})
	k.auditUse(ctx, keyring.AuditRecord{Op: keyspec.OpGenerateMac, KeyId: in.KeyId}, u.keyUse, err)
	if err != nil {
		return nil, err
	}
	return &keyring.GenerateMacOutput{Mac: mac, MacAlgorithm: in.MacAlgorithm, KeyId: k.useARN(u.keyUse)}, nil
}

// VerifyMac checks a MAC in constant time; a MAC that does not match is
// [keyring.ErrInvalidMac].
func (k *Keyring) VerifyMac(ctx context.Context, in *keyring.VerifyMacInput) (*keyring.VerifyMacOutput, error) {
	if err := k.authorize(ctx, authz{op: keyspec.OpVerifyMac, keyID: in.KeyId, tokens: in.GrantTokens}); err != nil {
		return nil, err
	}
	u, err := k.withMaterial(ctx, in.KeyId, keyspec.OpVerifyMac, func(m *keyspec.Material) error {
		if err := needMessage(in.Message); err != nil {
			return err
		}
		return m.VerifyMac(in.MacAlgorithm, in.Message, in.Mac)
	})
	k.auditUse(ctx, keyring.AuditRecord{Op: keyspec.OpVerifyMac, KeyId: in.KeyId}, u.keyUse, err)
	if err != nil {
		return nil, err
	}
	return &keyring.VerifyMacOutput{KeyId: k.useARN(u.keyUse), MacValid: true, MacAlgorithm: in.MacAlgorithm}, nil
}
