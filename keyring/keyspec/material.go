package keyspec

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/subtle"
	"crypto/x509"
	"fmt"
	"io"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	"github.com/kmsfs/kmsfs/keyring"
)

// Material is the key material of one key version: a symmetric or HMAC
// secret, or an asymmetric private key. [Material.Bytes] serialises it for
// sealing (raw bytes for symmetric and HMAC keys, PKCS#8 DER for private
// keys) and [ParseMaterial] reads it back. A Material is safe for
// concurrent use by its operations; [Material.Zero] must not race them.
type Material struct {
	spec   string
	info   specInfo
	secret []byte                // symmetric and HMAC keys
	rsa    *rsa.PrivateKey       // RSA_*
	ec     *ecdsa.PrivateKey     // ECC_NIST_*
	ed     ed25519.PrivateKey    // ECC_NIST_EDWARDS25519
	k1     *secp256k1.PrivateKey // ECC_SECG_P256K1 (decred's)
	// k1pub is k1's public key, computed once: decred derives it with a
	// variable-time scalar multiplication of the private scalar.
	k1pub *secp256k1.PublicKey
}

// Generate creates fresh key material of spec, reading randomness from
// rand. (Since Go 1.26, crypto/rsa, crypto/ecdsa and crypto/ed25519 may
// ignore rand and use crypto/rand.)
func Generate(spec string, rand io.Reader) (*Material, error) {
	si, err := lookup(spec)
	if err != nil {
		return nil, err
	}
	m := &Material{spec: spec, info: si}
	switch si.kind {
	case kindSymmetric, kindHMAC:
		m.secret = make([]byte, si.bits/8)
		_, err = io.ReadFull(rand, m.secret)
	case kindRSA:
		m.rsa, err = rsa.GenerateKey(rand, si.bits)
	case kindECDSA:
		m.ec, err = ecdsa.GenerateKey(curveOf(spec), rand)
	case kindEd25519:
		_, m.ed, err = ed25519.GenerateKey(rand)
	case kindSecp256k1:
		if m.k1, err = secp256k1.GeneratePrivateKeyFromRand(rand); err == nil {
			m.k1pub = m.k1.PubKey()
		}
	}
	if err != nil {
		return nil, fmt.Errorf("keyspec: generating %s key: %w", spec, err)
	}
	return m, nil
}

func curveOf(spec string) elliptic.Curve {
	switch spec {
	case ECCNISTP256:
		return elliptic.P256()
	case ECCNISTP384:
		return elliptic.P384()
	case ECCNISTP521:
		return elliptic.P521()
	}
	return nil
}

// ParseMaterial reads material of spec from b as [Material.Bytes] writes
// it, or as a BYOK import supplies it: 32 bytes for SYMMETRIC_DEFAULT, AWS's
// length range for HMAC keys, PKCS#8 DER of a key of exactly the spec's
// size or curve for asymmetric keys (for ECC_SECG_P256K1, PKCS#8 as
// OpenSSL writes it: see parseK1PKCS8). Material that does not fit is
// ErrIncorrectKeyMaterial. ParseMaterial copies b.
func ParseMaterial(spec string, b []byte) (*Material, error) {
	si, err := lookup(spec)
	if err != nil {
		return nil, err
	}
	m := &Material{spec: spec, info: si}
	if si.kind == kindSymmetric || si.kind == kindHMAC {
		if len(b) < si.minLen || len(b) > si.maxLen {
			return nil, fmt.Errorf("%w: %s material must be %d to %d bytes, not %d", ErrIncorrectKeyMaterial, spec, si.minLen, si.maxLen, len(b))
		}
		m.secret = append([]byte(nil), b...)
		return m, nil
	}
	if si.kind == kindSecp256k1 {
		k, pub, ok := parseK1PKCS8(b)
		if !ok {
			return nil, fmt.Errorf("%w: %s material is not a PKCS#8 secp256k1 private key", ErrIncorrectKeyMaterial, spec)
		}
		m.k1, m.k1pub = k, pub
		return m, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %s material is not a PKCS#8 private key", ErrIncorrectKeyMaterial, spec)
	}
	if !m.set(k) {
		return nil, fmt.Errorf("%w: private key does not match key spec %s", ErrIncorrectKeyMaterial, spec)
	}
	return m, nil
}

// set stores k in m if it is a key of m's spec.
func (m *Material) set(k any) bool {
	switch k := k.(type) {
	case *rsa.PrivateKey:
		if m.info.kind != kindRSA || k.N.BitLen() != m.info.bits {
			return false
		}
		m.rsa = k
	case *ecdsa.PrivateKey:
		if m.info.kind != kindECDSA || k.Curve != curveOf(m.spec) {
			return false
		}
		m.ec = k
	case ed25519.PrivateKey:
		if m.info.kind != kindEd25519 {
			return false
		}
		m.ed = k
	default:
		return false
	}
	return true
}

// Spec returns the key spec of m.
func (m *Material) Spec() string { return m.spec }

// Bytes returns m serialised for sealing: a copy of the secret for
// symmetric and HMAC keys, PKCS#8 DER for private keys. The caller owns
// and should zero the result.
func (m *Material) Bytes() ([]byte, error) {
	if m.k1 != nil {
		return marshalK1PKCS8(m.k1, m.k1pub), nil
	}
	if k := m.private(); k != nil {
		b, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			return nil, fmt.Errorf("%w: keyspec: marshalling %s key", keyring.ErrInternal, m.spec)
		}
		return b, nil
	}
	if m.secret == nil {
		return nil, errZeroed
	}
	return append([]byte(nil), m.secret...), nil
}

var errZeroed = fmt.Errorf("%w: keyspec: material was zeroed", keyring.ErrInternal)

// asymmetric reports whether m holds a private key.
func (m *Material) asymmetric() bool { return m.k1 != nil || m.private() != nil }

// private returns the private key of an asymmetric m but a secp256k1 one,
// or nil.
func (m *Material) private() crypto.Signer {
	switch {
	case m.rsa != nil:
		return m.rsa
	case m.ec != nil:
		return m.ec
	case m.ed != nil:
		return m.ed
	}
	return nil
}

// PublicKey returns the DER SubjectPublicKeyInfo of an asymmetric key, as
// GetPublicKey does; symmetric and HMAC keys have none
// (keyring.ErrUnsupported).
func (m *Material) PublicKey() ([]byte, error) {
	if m.k1 != nil {
		return marshalK1SPKI(m.k1pub), nil
	}
	k := m.private()
	if k == nil {
		if m.secret == nil && m.info.kind != kindSymmetric && m.info.kind != kindHMAC {
			return nil, errZeroed
		}
		return nil, fmt.Errorf("%w: %s keys have no public key", keyring.ErrUnsupported, m.spec)
	}
	b, err := x509.MarshalPKIXPublicKey(k.Public())
	if err != nil {
		return nil, fmt.Errorf("%w: keyspec: marshalling %s public key", keyring.ErrInternal, m.spec)
	}
	return b, nil
}

// Equal reports in constant time (for equal lengths) whether m and o hold
// the same key material, as a re-import must.
func (m *Material) Equal(o *Material) bool {
	if m.spec != o.spec {
		return false
	}
	a, err1 := m.Bytes()
	b, err2 := o.Bytes()
	defer zero(a)
	defer zero(b)
	return err1 == nil && err2 == nil && subtle.ConstantTimeCompare(a, b) == 1
}

// Zero overwrites the secret bytes m holds and drops its private key, best
// effort: symmetric, HMAC and Ed25519 keys are byte slices and are
// overwritten, and so are secp256k1 scalars (decred's Zero); RSA and
// NIST ECDSA private keys live in math/big and crypto/internal values that
// Go gives no way to overwrite, so they are only released to the garbage
// collector. m is unusable afterwards.
func (m *Material) Zero() {
	zero(m.secret)
	zero(m.ed)
	if m.k1 != nil {
		m.k1.Zero()
	}
	m.secret, m.ed, m.rsa, m.ec, m.k1, m.k1pub = nil, nil, nil, nil, nil, nil
}

func zero(b []byte) { clear(b) }

// GenerateDataKeyPair returns a fresh key pair of a data key pair spec
// (RSA_2048/3072/4096, ECC_NIST_P256/P384/P521, ECC_SECG_P256K1,
// ECC_NIST_EDWARDS25519): the private key as PKCS#8 DER, the public key as
// DER SubjectPublicKeyInfo. SM2 and ML_KEM_* are keyring.ErrUnsupported. The caller owns and should zero private.
func GenerateDataKeyPair(spec string, rand io.Reader) (private, public []byte, err error) {
	si, err := lookup(spec)
	if err != nil {
		return nil, nil, err
	}
	if si.kind == kindSymmetric || si.kind == kindHMAC {
		return nil, nil, fmt.Errorf("%w: %s is not a key pair spec", keyring.ErrValidation, spec)
	}
	m, err := Generate(spec, rand)
	if err != nil {
		return nil, nil, err
	}
	defer m.Zero()
	if public, err = m.PublicKey(); err != nil {
		return nil, nil, err
	}
	if private, err = m.Bytes(); err != nil {
		return nil, nil, err
	}
	return private, public, nil
}
