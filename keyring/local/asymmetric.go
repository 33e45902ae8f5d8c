package local

import (
	"context"
	"fmt"

	"github.com/kmsfs/kmsfs/keyring"
	"github.com/kmsfs/kmsfs/keyring/keyspec"
)

var _ keyring.Asymmetric = (*Keyring)(nil)

// Sign signs a message or digest with an asymmetric SIGN_VERIFY key, as
// AWS KMS's Sign.
func (k *Keyring) Sign(ctx context.Context, in *keyring.SignInput) (*keyring.SignOutput, error) {
	if err := k.authorize(ctx, authz{op: keyspec.OpSign, keyID: in.KeyId, tokens: in.GrantTokens}); err != nil {
		return nil, err
	}
	var sig []byte
	u, err := k.withMaterial(ctx, in.KeyId, keyspec.OpSign, func(m *keyspec.Material) error {
		if err := needMessage(in.Message); err != nil {
			return err
		}
		var err error
		sig, err = m.Sign(k.opts.Rand, in.SigningAlgorithm, in.MessageType, in.Message)
		return err
	})
	k.auditUse(ctx, keyring.AuditRecord{Op: keyspec.OpSign, KeyId: in.KeyId}, u.keyUse, err)
	if err != nil {
		return nil, err
	}
	return &keyring.SignOutput{KeyId: k.useARN(u.keyUse), Signature: sig, SigningAlgorithm: in.SigningAlgorithm}, nil
}

// Verify checks a signature as AWS KMS's Verify: a signature that does not
// verify is [keyring.ErrInvalidSignature].
func (k *Keyring) Verify(ctx context.Context, in *keyring.VerifyInput) (*keyring.VerifyOutput, error) {
	if err := k.authorize(ctx, authz{op: keyspec.OpVerify, keyID: in.KeyId, tokens: in.GrantTokens}); err != nil {
		return nil, err
	}
	u, err := k.withMaterial(ctx, in.KeyId, keyspec.OpVerify, func(m *keyspec.Material) error {
		if err := needMessage(in.Message); err != nil {
			return err
		}
		if len(in.Signature) == 0 {
			return fmt.Errorf("%w: Signature is required", keyring.ErrValidation)
		}
		return m.Verify(in.SigningAlgorithm, in.MessageType, in.Message, in.Signature)
	})
	k.auditUse(ctx, keyring.AuditRecord{Op: keyspec.OpVerify, KeyId: in.KeyId}, u.keyUse, err)
	if err != nil {
		return nil, err
	}
	return &keyring.VerifyOutput{KeyId: k.useARN(u.keyUse), SignatureValid: true, SigningAlgorithm: in.SigningAlgorithm}, nil
}

// GetPublicKey returns the DER SubjectPublicKeyInfo of an asymmetric key
// with its spec, usage and algorithms.
func (k *Keyring) GetPublicKey(ctx context.Context, in *keyring.GetPublicKeyInput) (*keyring.GetPublicKeyOutput, error) {
	if err := k.authorize(ctx, authz{op: keyspec.OpGetPublicKey, keyID: in.KeyId, tokens: in.GrantTokens}); err != nil {
		return nil, err
	}
	var pub []byte
	u, err := k.withMaterial(ctx, in.KeyId, keyspec.OpGetPublicKey, func(m *keyspec.Material) error {
		var err error
		pub, err = m.PublicKey()
		return err
	})
	k.auditUse(ctx, keyring.AuditRecord{Op: keyspec.OpGetPublicKey, KeyId: in.KeyId}, u.keyUse, err)
	if err != nil {
		return nil, err
	}
	algs := keyspec.AlgorithmsFor(u.spec, u.usage)
	return &keyring.GetPublicKeyOutput{KeyId: k.useARN(u.keyUse), PublicKey: pub, CustomerMasterKeySpec: u.spec, KeySpec: u.spec,
		KeyUsage: u.usage, EncryptionAlgorithms: algs.EncryptionAlgorithms, SigningAlgorithms: algs.SigningAlgorithms,
		KeyAgreementAlgorithms: algs.KeyAgreementAlgorithms}, nil
}

// DeriveSharedSecret derives the raw ECDH secret between a KEY_AGREEMENT
// key and a peer's public key.
func (k *Keyring) DeriveSharedSecret(ctx context.Context, in *keyring.DeriveSharedSecretInput) (*keyring.DeriveSharedSecretOutput, error) {
	if err := k.authorize(ctx, authz{op: keyspec.OpDeriveSharedSecret, keyID: in.KeyId, tokens: in.GrantTokens}); err != nil {
		return nil, err
	}
	var secret []byte
	u, err := k.withMaterial(ctx, in.KeyId, keyspec.OpDeriveSharedSecret, func(m *keyspec.Material) error {
		if in.Recipient != nil {
			return fmt.Errorf("%w: Recipient (Nitro enclaves)", keyring.ErrUnsupported)
		}
		var err error
		secret, err = m.DeriveSharedSecret(in.KeyAgreementAlgorithm, in.PublicKey)
		return err
	})
	k.auditUse(ctx, keyring.AuditRecord{Op: keyspec.OpDeriveSharedSecret, KeyId: in.KeyId}, u.keyUse, err)
	if err != nil {
		return nil, err
	}
	return &keyring.DeriveSharedSecretOutput{KeyId: k.useARN(u.keyUse), SharedSecret: secret,
		KeyAgreementAlgorithm: in.KeyAgreementAlgorithm, KeyOrigin: u.origin}, nil
}

// encryptRSA is Encrypt with an RSAES_OAEP algorithm.
func (k *Keyring) encryptRSA(ctx context.Context, in *keyring.EncryptInput) (*keyring.EncryptOutput, error) {
	var ct []byte
	u, err := k.withMaterial(ctx, in.KeyId, keyspec.OpEncrypt, func(m *keyspec.Material) error {
		if len(in.EncryptionContext) > 0 {
			return fmt.Errorf("%w: EncryptionContext is not supported with asymmetric keys", keyring.ErrValidation)
		}
		var err error
		ct, err = m.Encrypt(k.opts.Rand, in.EncryptionAlgorithm, in.Plaintext)
		return err
	})
	k.auditUse(ctx, keyring.AuditRecord{Op: keyspec.OpEncrypt, KeyId: in.KeyId}, u.keyUse, err)
	if err != nil {
		return nil, err
	}
	return &keyring.EncryptOutput{CiphertextBlob: ct, KeyId: k.useARN(u.keyUse), EncryptionAlgorithm: in.EncryptionAlgorithm}, nil
}

// decryptRSA is Decrypt with an RSAES_OAEP algorithm; KeyId is required.
func (k *Keyring) decryptRSA(ctx context.Context, in *keyring.DecryptInput) (*keyring.DecryptOutput, error) {
	if in.KeyId == "" {
		return nil, fmt.Errorf("%w: KeyId is required for an asymmetric ciphertext", keyring.ErrValidation)
	}
	if err := k.authorize(ctx, authz{op: keyspec.OpDecrypt, keyID: in.KeyId, tokens: in.GrantTokens}); err != nil {
		return nil, err
	}
	var pt []byte
	u, err := k.withMaterial(ctx, in.KeyId, keyspec.OpDecrypt, func(m *keyspec.Material) error {
		if len(in.EncryptionContext) > 0 {
			return fmt.Errorf("%w: EncryptionContext is not supported with asymmetric keys", keyring.ErrValidation)
		}
		var err error
		pt, err = m.Decrypt(in.EncryptionAlgorithm, in.CiphertextBlob)
		return err
	})
	k.auditUse(ctx, keyring.AuditRecord{Op: keyspec.OpDecrypt, KeyId: in.KeyId}, u.keyUse, err)
	if err != nil {
		return nil, err
	}
	return &keyring.DecryptOutput{KeyId: k.useARN(u.keyUse), Plaintext: pt, EncryptionAlgorithm: in.EncryptionAlgorithm}, nil
}

// isRSAAlg says whether alg asks for the RSA path of Encrypt and Decrypt.
func isRSAAlg(alg string) bool {
	return alg != "" && alg != keyspec.SymmetricDefaultAlg
}

// GenerateDataKeyPair returns a fresh key pair and its private key
// encrypted under a symmetric key, as AWS KMS's GenerateDataKeyPair.
func (k *Keyring) GenerateDataKeyPair(ctx context.Context, in *keyring.GenerateDataKeyPairInput) (*keyring.GenerateDataKeyPairOutput, error) {
	priv, pub, blob, arn, err := k.dataKeyPair(ctx, keyspec.OpGenerateDataKeyPair, in)
	if err != nil {
		return nil, err
	}
	return &keyring.GenerateDataKeyPairOutput{PrivateKeyCiphertextBlob: blob, PrivateKeyPlaintext: priv, PublicKey: pub,
		KeyId: arn, KeyPairSpec: in.KeyPairSpec}, nil
}

// GenerateDataKeyPairWithoutPlaintext is GenerateDataKeyPair that forgets
// the private key.
func (k *Keyring) GenerateDataKeyPairWithoutPlaintext(ctx context.Context, in *keyring.GenerateDataKeyPairInput) (*keyring.GenerateDataKeyPairWithoutPlaintextOutput, error) {
	priv, pub, blob, arn, err := k.dataKeyPair(ctx, keyspec.OpGenerateDataKeyPairWithoutPlaintext, in)
	if err != nil {
		return nil, err
	}
	zero(priv)
	return &keyring.GenerateDataKeyPairWithoutPlaintextOutput{PrivateKeyCiphertextBlob: blob, PublicKey: pub,
		KeyId: arn, KeyPairSpec: in.KeyPairSpec}, nil
}

func (k *Keyring) dataKeyPair(ctx context.Context, op string, in *keyring.GenerateDataKeyPairInput) (priv, pub, blob []byte, arn string, err error) {
	if err := k.authorize(ctx, authz{op: op, keyID: in.KeyId, ec: in.EncryptionContext, tokens: in.GrantTokens}); err != nil {
		return nil, nil, nil, "", err
	}
	ar := keyring.AuditRecord{Op: op, KeyId: in.KeyId, ContextKeys: contextKeys(in.EncryptionContext)}
	if in.Recipient != nil {
		err = fmt.Errorf("%w: Recipient (Nitro enclaves)", keyring.ErrUnsupported)
	} else if in.KeyPairSpec == "" {
		err = fmt.Errorf("%w: KeyPairSpec is required", keyring.ErrValidation)
	} else {
		priv, pub, err = keyspec.GenerateDataKeyPair(in.KeyPairSpec, k.opts.Rand)
	}
	if err != nil {
		k.auditUse(ctx, ar, keyUse{}, err)
		return nil, nil, nil, "", err
	}
	blob, u, err := k.encrypt(ctx, in.KeyId, priv, in.EncryptionContext)
	k.auditUse(ctx, ar, u, err)
	if err != nil {
		zero(priv)
		return nil, nil, nil, "", err
	}
	return priv, pub, blob, k.useARN(u), nil
}

// needMessage refuses an empty message (AWS: 1 to 4096 bytes; keyspec
// checks the upper bound).
func needMessage(msg []byte) error {
	if len(msg) == 0 {
		return fmt.Errorf("%w: Message is required", keyring.ErrValidation)
	}
	return nil
}
