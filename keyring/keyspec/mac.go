package keyspec

import (
	"crypto/hmac"
	"fmt"

	"github.com/kmsfs/kmsfs/keyring"
)

// mac computes the HMAC of msg under m, after AWS's checks: alg must be the
// spec's one MAC algorithm (InvalidKeyUsageException) and the message 1 to
// 4096 bytes.
func (m *Material) mac(alg string, msg []byte) ([]byte, error) {
	if m.info.kind != kindHMAC || alg != m.info.mac {
		return nil, fmt.Errorf("%w: MAC algorithm %q is not valid for %s", ErrInvalidKeyUsage, alg, m.spec)
	}
	if m.secret == nil {
		return nil, errZeroed
	}
	if len(msg) == 0 || len(msg) > MaxMessage {
		return nil, fmt.Errorf("%w: message must be 1 to %d bytes", keyring.ErrValidation, MaxMessage)
	}
	h := hmac.New(hashOf[alg].New, m.secret)
	h.Write(msg)
	return h.Sum(nil), nil
}

// GenerateMac returns the HMAC of msg, as AWS's GenerateMac does.
func (m *Material) GenerateMac(alg string, msg []byte) ([]byte, error) {
	return m.mac(alg, msg)
}

// VerifyMac checks mac against the HMAC of msg in constant time; a MAC that
// does not match is ErrInvalidMac (KMSInvalidMacException).
func (m *Material) VerifyMac(alg string, msg, mac []byte) error {
	want, err := m.mac(alg, msg)
	if err != nil {
		return err
	}
	if len(mac) == 0 || len(mac) > maxSignature {
		return fmt.Errorf("%w: MAC must be 1 to %d bytes", keyring.ErrValidation, maxSignature)
	}
	if !hmac.Equal(want, mac) {
		return ErrInvalidMac
	}
	return nil
}
