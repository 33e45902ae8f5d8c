package keyspec

import (
	"crypto/rsa"
	"fmt"
	"io"
	"slices"

	"github.com/kmsfs/kmsfs/keyring"
)

// rsaKey returns m's RSA key for an encryption algorithm alg, or the error
// AWS gives: an algorithm the spec does not list is ErrInvalidKeyUsage.
func (m *Material) rsaKey(alg string) (*rsa.PrivateKey, error) {
	if !slices.Contains(AlgorithmsFor(m.spec, UsageEncryptDecrypt).EncryptionAlgorithms, alg) || alg == SymmetricDefaultAlg {
		return nil, fmt.Errorf("%w: encryption algorithm %q is not valid for %s", ErrInvalidKeyUsage, alg, m.spec)
	}
	if m.rsa == nil {
		return nil, errZeroed
	}
	return m.rsa, nil
}

// MaxPlaintext returns the longest plaintext RSAES_OAEP alg takes under an
// RSA key of spec: k - 2·hLen - 2 bytes (RFC 8017), which is AWS's table
// (RSA_2048: 214 with SHA-1, 190 with SHA-256; RSA_3072: 342, 318;
// RSA_4096: 470, 446). It is 0 for any other pair.
func MaxPlaintext(spec, alg string) int {
	si, ok := specs[spec]
	h, hok := hashOf[alg]
	if !ok || si.kind != kindRSA || !hok || (alg != RSAESOAEPSHA1 && alg != RSAESOAEPSHA256) {
		return 0
	}
	return si.bits/8 - 2*h.Size() - 2
}

// Encrypt encrypts plaintext with RSAES-OAEP (MGF1 with the same hash, no
// label), as AWS's Encrypt does with an RSA ENCRYPT_DECRYPT key. Plaintext
// longer than [MaxPlaintext] or empty is keyring.ErrValidation.
func (m *Material) Encrypt(rand io.Reader, alg string, plaintext []byte) ([]byte, error) {
	k, err := m.rsaKey(alg)
	if err != nil {
		return nil, err
	}
	if n := MaxPlaintext(m.spec, alg); len(plaintext) == 0 || len(plaintext) > n {
		return nil, fmt.Errorf("%w: %s plaintext under %s must be 1 to %d bytes", keyring.ErrValidation, alg, m.spec, n)
	}
	ct, err := rsa.EncryptOAEP(hashOf[alg].New(), rand, &k.PublicKey, plaintext, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: keyspec: %s encryption failed", keyring.ErrInternal, alg)
	}
	return ct, nil
}

// Decrypt decrypts an RSAES-OAEP ciphertext made by [Material.Encrypt] or
// outside KMS with the public key. A ciphertext that does not decrypt is
// keyring.ErrInvalidCiphertext, with no detail.
func (m *Material) Decrypt(alg string, ciphertext []byte) ([]byte, error) {
	k, err := m.rsaKey(alg)
	if err != nil {
		return nil, err
	}
	pt, err := rsa.DecryptOAEP(hashOf[alg].New(), nil, k, ciphertext, nil)
	if err != nil {
		return nil, keyring.ErrInvalidCiphertext
	}
	return pt, nil
}
