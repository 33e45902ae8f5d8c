package kmsapi

import (
	"context"

	"github.com/kmsfs/kmsfs/keyring"
)

var _ keyring.VersionRetirer = (*Client)(nil)

// VersionInput is the request of KmsfsService.SetMinDecryptionVersion and
// KmsfsService.DestroyVersionsBelow: a key in any form and a version.
type VersionInput struct {
	KeyId      string
	KeyVersion uint32
}

// versionOps serves the keyring.VersionRetirer operations when svc has them; a
// service without them answers UnknownOperationException, as for any
// operation it does not know.
func versionOps(svc keyring.Service) map[string]endpoint {
	vr, ok := svc.(keyring.VersionRetirer)
	if !ok {
		return nil
	}
	return map[string]endpoint{
		kmsfsPrefix + "SetMinDecryptionVersion": voidOp(func(ctx context.Context, in *VersionInput) error {
			return vr.SetMinDecryptionVersion(ctx, in.KeyId, in.KeyVersion)
		}),
		kmsfsPrefix + "DestroyVersionsBelow": voidOp(func(ctx context.Context, in *VersionInput) error {
			return vr.DestroyVersionsBelow(ctx, in.KeyId, in.KeyVersion)
		}),
	}
}

// SetMinDecryptionVersion implements [keyring.VersionRetirer] over the wire.
func (c *Client) SetMinDecryptionVersion(ctx context.Context, keyID string, v uint32) error {
	return callVoid(ctx, c, kmsfsPrefix+"SetMinDecryptionVersion", &VersionInput{KeyId: keyID, KeyVersion: v})
}

// DestroyVersionsBelow implements [keyring.VersionRetirer] over the wire.
func (c *Client) DestroyVersionsBelow(ctx context.Context, keyID string, v uint32) error {
	return callVoid(ctx, c, kmsfsPrefix+"DestroyVersionsBelow", &VersionInput{KeyId: keyID, KeyVersion: v})
}
