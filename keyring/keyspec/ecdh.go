package keyspec

import (
	"crypto/ecdsa"
	"crypto/x509"
	"fmt"

	"github.com/kmsfs/kmsfs/keyring"
)

// maxPublicKey is the longest PublicKey AWS's DeriveSharedSecret accepts.
const maxPublicKey = 8192

// DeriveSharedSecret derives the raw ECDH shared secret (the x-coordinate,
// as AWS returns it) between m's private key and a peer's public key, given
// as DER SubjectPublicKeyInfo. alg must be ECDH; m must be a NIST curve key
// (ErrInvalidKeyUsage otherwise). A peer key that does not parse, is not
// on m's curve, or is invalid is keyring.ErrValidation. The caller owns and
// should zero the secret.
func (m *Material) DeriveSharedSecret(alg string, peerSPKI []byte) ([]byte, error) {
	if alg != ECDH || m.info.kind != kindECDSA {
		return nil, fmt.Errorf("%w: key agreement algorithm %q is not valid for %s", ErrInvalidKeyUsage, alg, m.spec)
	}
	if m.ec == nil {
		return nil, errZeroed
	}
	if len(peerSPKI) == 0 || len(peerSPKI) > maxPublicKey {
		return nil, fmt.Errorf("%w: public key must be 1 to %d bytes", keyring.ErrValidation, maxPublicKey)
	}
	pub, err := x509.ParsePKIXPublicKey(peerSPKI)
	if err != nil {
		return nil, fmt.Errorf("%w: public key is not a DER SubjectPublicKeyInfo", keyring.ErrValidation)
	}
	ep, ok := pub.(*ecdsa.PublicKey)
	if !ok || ep.Curve != m.ec.Curve {
		return nil, fmt.Errorf("%w: public key is not on the curve of %s", keyring.ErrValidation, m.spec)
	}
	peer, err := ep.ECDH()
	if err != nil {
		return nil, fmt.Errorf("%w: invalid public key", keyring.ErrValidation)
	}
	priv, err := m.ec.ECDH()
	if err != nil {
		return nil, fmt.Errorf("%w: keyspec: ECDH key conversion", keyring.ErrInternal)
	}
	secret, err := priv.ECDH(peer)
	if err != nil {
		return nil, fmt.Errorf("%w: invalid public key", keyring.ErrValidation)
	}
	return secret, nil
}
