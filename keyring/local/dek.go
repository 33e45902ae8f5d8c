package local

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/kmsfs/kmsfs/keyring"
)

const (
	dekSaltSize = 32
	// Bounds on a wrapped DEK; the filesystem's are 32 bytes.
	minDEKSize = 16
	maxDEKSize = 64
)

// dekAAD binds a wrapped DEK to its key version and the caller's AAD (the
// envelope header).
func dekAAD(u *keyUse, callerAAD []byte) []byte {
	aad := make([]byte, 0, len(infoDEKWrap)+16+4+len(callerAAD))
	aad = append(aad, infoDEKWrap...)
	aad = append(aad, u.id[:]...)
	aad = binary.BigEndian.AppendUint32(aad, u.version)
	return append(aad, callerAAD...)
}

// WrapDEK wraps a file data key (16 to 64 bytes; kmsfs uses 32) under the
// current version of KeyId, given in any form. The output names the key by
// its bare UUID, as the envelope header stores it. The version used is
// durable before WrapDEK can see it (see [Keyring.CreateKey]).
//
// The wrapped key (FORMAT.md, "Key hierarchy") is
//
//	wrapped = salt (32 random bytes) || AES-256-GCM ciphertext || tag
//	key     = HKDF-SHA-256(ikm=version key, salt=salt, info="kmsfs v1 dek wrap")
//	nonce   = 12 zero bytes (the key wraps one DEK only)
//	aad     = "kmsfs v1 dek wrap" || key ID (16 raw bytes) || key version (u32 BE) || caller AAD
func (k *Keyring) WrapDEK(ctx context.Context, in *keyring.WrapDEKInput) (*keyring.WrapDEKOutput, error) {
	if err := k.authorize(ctx, authz{op: "WrapDEK", action: "kms:Encrypt", keyID: in.KeyId}); err != nil {
		return nil, err
	}
	wrapped, u, err := k.wrapDEK(ctx, in)
	k.auditUse(ctx, keyring.AuditRecord{Op: "WrapDEK", KeyId: in.KeyId}, u, err)
	if err != nil {
		return nil, err
	}
	return &keyring.WrapDEKOutput{KeyId: u.id.String(), KeyVersion: u.version, WrappedKey: wrapped}, nil
}

func (k *Keyring) wrapDEK(ctx context.Context, in *keyring.WrapDEKInput) ([]byte, keyUse, error) {
	if len(in.Plaintext) < minDEKSize || len(in.Plaintext) > maxDEKSize {
		return nil, keyUse{}, fmt.Errorf("%w: data key length %d not in %d..%d", keyring.ErrValidation, len(in.Plaintext), minDEKSize, maxDEKSize)
	}
	u, err := k.encryptionKey(ctx, in.KeyId)
	if err != nil {
		return nil, u, err
	}
	defer u.wipe()
	out := make([]byte, dekSaltSize, dekSaltSize+len(in.Plaintext)+gcmTagSize)
	if _, err := io.ReadFull(k.opts.Rand, out); err != nil {
		return nil, u, fmt.Errorf("%w: reading random salt: %w", keyring.ErrInternal, err)
	}
	return sealOnce(out, u.key[:], out[:dekSaltSize], infoDEKWrap, in.Plaintext, dekAAD(&u, in.AAD)), u, nil
}

// UnwrapDEK recovers a data key wrapped by WrapDEK. KeyId is the key's
// UUID (or any other form) and KeyVersion the version, both from the
// envelope header. Altered bytes, a different AAD or a wrong version all
// fail with [keyring.ErrInvalidCiphertext] alone; a version below the minimum
// decryption version fails with [keyring.ErrVersionRetired], a deleted key with
// [keyring.ErrNotFound], a Disabled key with [keyring.ErrDisabled].
//
// UnwrapDEK runs on every file open; its audit records are aggregated (see
// [keyring.AuditRecord.Count]).
func (k *Keyring) UnwrapDEK(ctx context.Context, in *keyring.UnwrapDEKInput) (*keyring.UnwrapDEKOutput, error) {
	if err := k.authorize(ctx, authz{op: "UnwrapDEK", action: "kms:Decrypt", keyID: in.KeyId}); err != nil {
		return nil, err
	}
	dek, u, err := k.unwrapDEK(ctx, in)
	k.audit.countUnwrap(ctx, in.KeyId, u, err)
	if err != nil {
		return nil, err
	}
	return &keyring.UnwrapDEKOutput{Plaintext: dek}, nil
}

func (k *Keyring) unwrapDEK(ctx context.Context, in *keyring.UnwrapDEKInput) ([]byte, keyUse, error) {
	u, err := k.decryptionKey(ctx, in.KeyId, in.KeyVersion)
	if err != nil {
		return nil, u, err
	}
	defer u.wipe()
	if len(in.WrappedKey) < dekSaltSize+gcmTagSize+minDEKSize || len(in.WrappedKey) > dekSaltSize+gcmTagSize+maxDEKSize {
		return nil, u, keyring.ErrInvalidCiphertext
	}
	salt, ct := in.WrappedKey[:dekSaltSize], in.WrappedKey[dekSaltSize:]
	dek, ok := openOnce(u.key[:], salt, infoDEKWrap, ct, dekAAD(&u, in.AAD))
	if !ok {
		return nil, u, keyring.ErrInvalidCiphertext
	}
	return dek, u, nil
}
