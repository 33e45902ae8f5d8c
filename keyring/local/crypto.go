package local

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/google/uuid"
	"github.com/kmsfs/kmsfs/keyring"
)

// keyUse is one version key copied out of the cache for one operation, so
// the crypto runs without holding k.mu. Call wipe when done.
type keyUse struct {
	id      uuid.UUID
	kid     string // the key ID callers see (mrk-... for multi-Region keys)
	region  string // the key record's region; "" is the keyring's default
	version uint32
	key     [materialSize]byte
}

// useARN is the ARN of u's key, built only where an output names it: the
// file-open path (UnwrapDEK) never needs it.
func (k *Keyring) useARN(u keyUse) string { return k.arnPrefixIn(u.region) + "key/" + u.kid }

func (u *keyUse) wipe() { clear(u.key[:]) }

// encryptionKey returns the current version of an Enabled key.
func (k *Keyring) encryptionKey(ctx context.Context, keyID string) (keyUse, error) {
	var u keyUse
	err := k.withKey(ctx, keyID, func(e *keyEntry) error {
		u.id, u.version = e.rec.ID, e.rec.current() // named in the audit even on failure
		u.kid, u.region = e.rec.keyID(), e.rec.Region
		if err := usable(e.rec); err != nil {
			return err
		}
		if err := symmetricOnly(e.rec); err != nil {
			return err
		}
		m, ok := e.material[u.version]
		if !ok {
			return fmt.Errorf("%w: key %s has no key material", keyring.ErrInvalidState, e.rec.ID)
		}
		copy(u.key[:], m)
		return nil
	})
	return u, err
}

// decryptionKey returns one version of an Enabled key. A version below the
// minimum decryption version fails with ErrVersionRetired; one that never
// existed with ErrInvalidCiphertext.
func (k *Keyring) decryptionKey(ctx context.Context, keyID string, version uint32) (keyUse, error) {
	var u keyUse
	err := k.withKey(ctx, keyID, func(e *keyEntry) error {
		u.id, u.version = e.rec.ID, version // named in the audit even on failure
		u.kid, u.region = e.rec.keyID(), e.rec.Region
		if err := usable(e.rec); err != nil {
			return err
		}
		if err := symmetricOnly(e.rec); err != nil {
			return err
		}
		if version != 0 && version < e.rec.MinDecrypt {
			return fmt.Errorf("%w: key %s version %d (minimum %d)", keyring.ErrVersionRetired, e.rec.ID, version, e.rec.MinDecrypt)
		}
		m, ok := e.material[version]
		if !ok {
			return keyring.ErrInvalidCiphertext
		}
		copy(u.key[:], m)
		return nil
	})
	return u, err
}

// authorizeBlob is authorize for the key a ciphertext blob names; z.keyID
// is the request's optional KeyId, which names the alias if it is one. A
// blob that does not parse is left to the operation to refuse.
func (k *Keyring) authorizeBlob(ctx context.Context, z authz, blob []byte) error {
	h, err := ParseBlob(blob)
	if err != nil {
		return checkGrantTokens(z.tokens)
	}
	z.alias = k.aliasNamed(k.regionOf(ctx), z.keyID)
	z.keyID = h.KeyUUID()
	return k.authorize(ctx, z)
}

// resolveID returns the UUID of a key named in any form.
func (k *Keyring) resolveID(ctx context.Context, keyID string) (uuid.UUID, error) {
	var id uuid.UUID
	err := k.withKey(ctx, keyID, func(e *keyEntry) error {
		id = e.rec.ID
		return nil
	})
	return id, err
}

// Encrypt encrypts up to 4096 bytes under the key's current version into a
// blob (see [ParseBlob] for the format).
func (k *Keyring) Encrypt(ctx context.Context, in *keyring.EncryptInput) (*keyring.EncryptOutput, error) {
	if err := k.authorize(ctx, authz{op: "Encrypt", keyID: in.KeyId, ec: in.EncryptionContext, tokens: in.GrantTokens}); err != nil {
		return nil, err
	}
	if isRSAAlg(in.EncryptionAlgorithm) {
		return k.encryptRSA(ctx, in) // asymmetric.go
	}
	ar := keyring.AuditRecord{Op: "Encrypt", KeyId: in.KeyId, ContextKeys: contextKeys(in.EncryptionContext)}
	blob, u, err := k.encrypt(ctx, in.KeyId, in.Plaintext, in.EncryptionContext)
	k.auditUse(ctx, ar, u, err)
	if err != nil {
		return nil, err
	}
	return &keyring.EncryptOutput{CiphertextBlob: blob, KeyId: k.useARN(u), EncryptionAlgorithm: algSymmetricDefault}, nil
}

// encrypt validates and seals one plaintext; u.key is already wiped.
func (k *Keyring) encrypt(ctx context.Context, keyID string, plaintext []byte, ec map[string]string) ([]byte, keyUse, error) {
	if len(plaintext) < 1 || len(plaintext) > MaxPlaintext {
		return nil, keyUse{}, fmt.Errorf("%w: plaintext length %d not in 1..%d", keyring.ErrValidation, len(plaintext), MaxPlaintext)
	}
	aad, err := keyring.EncodeContext(ec)
	if err != nil {
		return nil, keyUse{}, err
	}
	u, err := k.encryptionKey(ctx, keyID)
	if err != nil {
		return nil, u, err
	}
	defer u.wipe()
	h := BlobHeader{KeyID: u.id, KeyVersion: u.version}
	if _, err := io.ReadFull(k.opts.Rand, h.Salt[:]); err != nil {
		return nil, u, fmt.Errorf("%w: reading random salt: %w", keyring.ErrInternal, err)
	}
	return sealBlob(h, u.key[:], plaintext, aad), u, nil
}

// Decrypt decrypts a blob. KeyId is optional; when given and not the key
// that made the blob, Decrypt fails with [keyring.ErrIncorrectKey]. The key named
// in the blob must be Enabled. Every authentication failure (tampering,
// wrong context, unknown key or version) is [keyring.ErrInvalidCiphertext] with no
// further detail.
func (k *Keyring) Decrypt(ctx context.Context, in *keyring.DecryptInput) (*keyring.DecryptOutput, error) {
	if isRSAAlg(in.EncryptionAlgorithm) {
		return k.decryptRSA(ctx, in) // asymmetric.go
	}
	if err := k.authorizeBlob(ctx, authz{op: "Decrypt", keyID: in.KeyId, ec: in.EncryptionContext, tokens: in.GrantTokens}, in.CiphertextBlob); err != nil {
		return nil, err
	}
	ar := keyring.AuditRecord{Op: "Decrypt", KeyId: in.KeyId, ContextKeys: contextKeys(in.EncryptionContext)}
	pt, u, err := k.decrypt(ctx, in.CiphertextBlob, in.EncryptionContext, in.KeyId)
	k.auditUse(ctx, ar, u, err)
	if err != nil {
		return nil, err
	}
	return &keyring.DecryptOutput{KeyId: k.useARN(u), Plaintext: pt, EncryptionAlgorithm: algSymmetricDefault}, nil
}

// decrypt opens a blob; u.key is already wiped.
func (k *Keyring) decrypt(ctx context.Context, blob []byte, ec map[string]string, keyID string) ([]byte, keyUse, error) {
	h, err := ParseBlob(blob)
	if err != nil {
		return nil, keyUse{}, keyring.ErrInvalidCiphertext
	}
	aad, err := keyring.EncodeContext(ec)
	if err != nil {
		return nil, keyUse{}, err
	}
	if keyID != "" {
		want, err := k.resolveID(ctx, keyID)
		if err != nil {
			return nil, keyUse{}, err
		}
		if want != h.KeyID {
			return nil, keyUse{}, fmt.Errorf("%w: the ciphertext was not made under %q", keyring.ErrIncorrectKey, truncate(keyID))
		}
	}
	u, err := k.decryptionKey(ctx, h.KeyUUID(), h.KeyVersion)
	if errors.Is(err, keyring.ErrNotFound) || errors.Is(err, keyring.ErrInvalidCiphertext) {
		return nil, keyUse{}, keyring.ErrInvalidCiphertext
	}
	if err != nil {
		return nil, u, err
	}
	defer u.wipe()
	pt, ok := openBlob(h, u.key[:], aad)
	if !ok {
		return nil, u, keyring.ErrInvalidCiphertext
	}
	return pt, u, nil
}

// ReEncrypt decrypts a blob and encrypts its plaintext under the newest
// version of DestinationKeyId without returning the plaintext.
func (k *Keyring) ReEncrypt(ctx context.Context, in *keyring.ReEncryptInput) (*keyring.ReEncryptOutput, error) {
	ar := keyring.AuditRecord{Op: "ReEncrypt", KeyId: in.DestinationKeyId, SourceKeyId: in.SourceKeyId,
		ContextKeys: contextKeys(in.DestinationEncryptionContext)}
	if in.DestinationKeyId == "" {
		err := fmt.Errorf("%w: DestinationKeyId is required", keyring.ErrValidation)
		k.auditUse(ctx, ar, keyUse{}, err)
		return nil, err
	}
	err := k.authorizeBlob(ctx, authz{op: "ReEncrypt", action: "kms:ReEncryptFrom", keyID: in.SourceKeyId,
		ec: in.SourceEncryptionContext, tokens: in.GrantTokens}, in.CiphertextBlob)
	if err == nil {
		err = k.authorize(ctx, authz{op: "ReEncrypt", action: "kms:ReEncryptTo", keyID: in.DestinationKeyId,
			ec: in.DestinationEncryptionContext, tokens: in.GrantTokens})
	}
	if err != nil {
		return nil, err
	}
	pt, src, err := k.decrypt(ctx, in.CiphertextBlob, in.SourceEncryptionContext, in.SourceKeyId)
	if src.id != (uuid.UUID{}) {
		ar.SourceKeyId = src.kid
	}
	if err != nil {
		k.auditUse(ctx, ar, keyUse{}, err)
		return nil, err
	}
	defer zero(pt)
	blob, dst, err := k.encrypt(ctx, in.DestinationKeyId, pt, in.DestinationEncryptionContext)
	k.auditUse(ctx, ar, dst, err)
	if err != nil {
		return nil, err
	}
	return &keyring.ReEncryptOutput{CiphertextBlob: blob, SourceKeyId: k.useARN(src), KeyId: k.useARN(dst),
		SourceEncryptionAlgorithm: algSymmetricDefault, DestinationEncryptionAlgorithm: algSymmetricDefault}, nil
}

// GenerateDataKey returns a random data key and its blob under KeyId.
func (k *Keyring) GenerateDataKey(ctx context.Context, in *keyring.GenerateDataKeyInput) (*keyring.GenerateDataKeyOutput, error) {
	pt, blob, arn, err := k.generateDataKey(ctx, "GenerateDataKey", in)
	if err != nil {
		return nil, err
	}
	return &keyring.GenerateDataKeyOutput{CiphertextBlob: blob, Plaintext: pt, KeyId: arn}, nil
}

// GenerateDataKeyWithoutPlaintext is GenerateDataKey that forgets the
// plaintext data key.
func (k *Keyring) GenerateDataKeyWithoutPlaintext(ctx context.Context, in *keyring.GenerateDataKeyInput) (*keyring.GenerateDataKeyWithoutPlaintextOutput, error) {
	pt, blob, arn, err := k.generateDataKey(ctx, "GenerateDataKeyWithoutPlaintext", in)
	if err != nil {
		return nil, err
	}
	zero(pt)
	return &keyring.GenerateDataKeyWithoutPlaintextOutput{CiphertextBlob: blob, KeyId: arn}, nil
}

func (k *Keyring) generateDataKey(ctx context.Context, op string, in *keyring.GenerateDataKeyInput) ([]byte, []byte, string, error) {
	if err := k.authorize(ctx, authz{op: op, keyID: in.KeyId, ec: in.EncryptionContext, tokens: in.GrantTokens}); err != nil {
		return nil, nil, "", err
	}
	ar := keyring.AuditRecord{Op: op, KeyId: in.KeyId, ContextKeys: contextKeys(in.EncryptionContext)}
	n, err := dataKeySize(in)
	if err != nil {
		k.auditUse(ctx, ar, keyUse{}, err)
		return nil, nil, "", err
	}
	pt := make([]byte, n)
	if _, err := io.ReadFull(k.opts.Rand, pt); err != nil {
		err = fmt.Errorf("%w: reading random data key: %w", keyring.ErrInternal, err)
		k.auditUse(ctx, ar, keyUse{}, err)
		return nil, nil, "", err
	}
	blob, u, err := k.encrypt(ctx, in.KeyId, pt, in.EncryptionContext)
	k.auditUse(ctx, ar, u, err)
	if err != nil {
		zero(pt)
		return nil, nil, "", err
	}
	return pt, blob, k.useARN(u), nil
}

// dataKeySize takes exactly one of KeySpec and NumberOfBytes, as AWS.
func dataKeySize(in *keyring.GenerateDataKeyInput) (int, error) {
	switch {
	case in.KeySpec != "" && in.NumberOfBytes != 0:
		return 0, fmt.Errorf("%w: both KeySpec and NumberOfBytes cannot be provided", keyring.ErrValidation)
	case in.KeySpec == keyring.DataKeyAES256:
		return 32, nil
	case in.KeySpec == keyring.DataKeyAES128:
		return 16, nil
	case in.KeySpec != "":
		return 0, fmt.Errorf("%w: KeySpec %q (want %s or %s)", keyring.ErrValidation, truncate(in.KeySpec), keyring.DataKeyAES256, keyring.DataKeyAES128)
	case in.NumberOfBytes == 0:
		return 0, fmt.Errorf("%w: either KeySpec or NumberOfBytes is required", keyring.ErrValidation)
	case in.NumberOfBytes < 1 || in.NumberOfBytes > maxDataKeyBytes:
		return 0, fmt.Errorf("%w: NumberOfBytes %d not in 1..%d", keyring.ErrValidation, in.NumberOfBytes, maxDataKeyBytes)
	}
	return in.NumberOfBytes, nil
}
