package keyspec

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha512"
	"fmt"
	"io"
	"slices"

	"github.com/kmsfs/kmsfs/keyring"
)

// maxSignature is the longest Signature AWS's Verify accepts.
const maxSignature = 6144

// digestFor checks a Sign or Verify request against m's spec and returns
// what the primitive signs: the digest (hashing a RAW message), or for
// ED25519_SHA_512 the message itself.
//
// AWS's rules: the algorithm must be one the spec lists
// (InvalidKeyUsageException); the message is 1 to 4096 bytes; a DIGEST
// message is exactly the hash's size; ED25519_SHA_512 takes RAW only and
// ED25519_PH_SHA_512 DIGEST only, and on a DIGEST KMS still applies the
// SHA-512 prehash of HashEdDSA (the input is hashed twice).
func (m *Material) digestFor(alg, messageType string, msg []byte) ([]byte, crypto.Hash, error) {
	if !m.asymmetric() {
		if m.info.kind == kindRSA || m.info.kind == kindECDSA || m.info.kind == kindEd25519 || m.info.kind == kindSecp256k1 {
			return nil, 0, errZeroed
		}
		return nil, 0, fmt.Errorf("%w: %s keys cannot sign", ErrInvalidKeyUsage, m.spec)
	}
	if _, ok := hashOf[alg]; !ok || !slices.Contains(AlgorithmsFor(m.spec, UsageSignVerify).SigningAlgorithms, alg) {
		return nil, 0, fmt.Errorf("%w: signing algorithm %q is not valid for %s", ErrInvalidKeyUsage, alg, m.spec)
	}
	h := hashOf[alg]
	if messageType == "" {
		messageType = MessageRaw
	}
	if len(msg) == 0 || len(msg) > MaxMessage {
		return nil, 0, fmt.Errorf("%w: message must be 1 to %d bytes", keyring.ErrValidation, MaxMessage)
	}
	switch messageType {
	case MessageRaw:
		if alg == Ed25519PHSHA512 {
			return nil, 0, fmt.Errorf("%w: %s requires MessageType DIGEST", keyring.ErrValidation, alg)
		}
		if alg == Ed25519SHA512 {
			return msg, h, nil
		}
		hh := h.New()
		hh.Write(msg)
		return hh.Sum(nil), h, nil
	case MessageDigest:
		if alg == Ed25519SHA512 {
			return nil, 0, fmt.Errorf("%w: %s requires MessageType RAW", keyring.ErrValidation, alg)
		}
		if len(msg) != h.Size() {
			return nil, 0, fmt.Errorf("%w: a %s digest is %d bytes, not %d", keyring.ErrValidation, alg, h.Size(), len(msg))
		}
		if alg == Ed25519PHSHA512 {
			d := sha512.Sum512(msg)
			return d[:], h, nil
		}
		return msg, h, nil
	}
	return nil, 0, fmt.Errorf("%w: unknown message type %q", keyring.ErrValidation, messageType)
}

// Sign signs msg with the signing algorithm alg, as AWS's Sign does: RSA
// signatures per PKCS #1 (PSS with a salt as long as the hash), ECDSA
// signatures DER-encoded (RFC 3279), Ed25519 signatures per RFC 8032.
// ECC_SECG_P256K1 signatures are decred's: deterministic (RFC 6979, rand
// is not read) and always low S (s <= n/2), where AWS KMS's are
// randomised and not necessarily low S; both verify the same way
// everywhere, and [Material.Verify] accepts either half.
// messageType is RAW (the default when empty) or DIGEST. The caller checks
// the key's usage with [CheckOperation].
func (m *Material) Sign(rand io.Reader, alg, messageType string, msg []byte) ([]byte, error) {
	d, h, err := m.digestFor(alg, messageType, msg)
	if err != nil {
		return nil, err
	}
	var sig []byte
	switch {
	case m.rsa != nil && isPSS(alg):
		sig, err = rsa.SignPSS(rand, m.rsa, h, d, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	case m.rsa != nil:
		sig, err = rsa.SignPKCS1v15(rand, m.rsa, h, d)
	case m.ec != nil:
		sig, err = ecdsa.SignASN1(rand, m.ec, d)
	case m.k1 != nil:
		sig = signK1(m.k1, d)
	case alg == Ed25519PHSHA512:
		sig, err = m.ed.Sign(nil, d, &ed25519.Options{Hash: crypto.SHA512})
	default:
		sig = ed25519.Sign(m.ed, d)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: keyspec: %s signature failed", keyring.ErrInternal, alg)
	}
	return sig, nil
}

func isPSS(alg string) bool {
	return alg == RSASSAPSSSHA256 || alg == RSASSAPSSSHA384 || alg == RSASSAPSSSHA512
}

// Verify checks sig over msg as AWS's Verify does; a signature that does
// not verify is ErrInvalidSignature (KMSInvalidSignatureException), never a
// false result. Request errors are those of [Material.Sign].
func (m *Material) Verify(alg, messageType string, msg, sig []byte) error {
	d, h, err := m.digestFor(alg, messageType, msg)
	if err != nil {
		return err
	}
	if len(sig) == 0 || len(sig) > maxSignature {
		return fmt.Errorf("%w: signature must be 1 to %d bytes", keyring.ErrValidation, maxSignature)
	}
	ok := false
	switch {
	case m.rsa != nil && isPSS(alg):
		ok = rsa.VerifyPSS(&m.rsa.PublicKey, h, d, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}) == nil
	case m.rsa != nil:
		ok = rsa.VerifyPKCS1v15(&m.rsa.PublicKey, h, d, sig) == nil
	case m.ec != nil:
		ok = ecdsa.VerifyASN1(&m.ec.PublicKey, d, sig)
	case m.k1 != nil:
		ok = verifyK1(m.k1pub, d, sig)
	case alg == Ed25519PHSHA512:
		ok = ed25519.VerifyWithOptions(m.ed.Public().(ed25519.PublicKey), d, sig, &ed25519.Options{Hash: crypto.SHA512}) == nil
	default:
		ok = ed25519.Verify(m.ed.Public().(ed25519.PublicKey), d, sig)
	}
	if !ok {
		return ErrInvalidSignature
	}
	return nil
}
