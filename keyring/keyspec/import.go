package keyspec

import (
	"fmt"
	"io"
	"time"

	kwp "github.com/tink-crypto/tink-go/v2/kwp/subtle"

	"github.com/kmsfs/kmsfs/keyring"
)

// Wrapping algorithms of GetParametersForImport (AWS's AlgorithmSpec).
// RSAES_PKCS1_V1_5 is refused, as AWS has since October 2023.
const (
	WrapRSAESOAEPSHA1       = "RSAES_OAEP_SHA_1"
	WrapRSAESOAEPSHA256     = "RSAES_OAEP_SHA_256"
	WrapRSAAESKeyWrapSHA1   = "RSA_AES_KEY_WRAP_SHA_1"
	WrapRSAAESKeyWrapSHA256 = "RSA_AES_KEY_WRAP_SHA_256"
	wrapRSAESPKCS1V15       = "RSAES_PKCS1_V1_5"
)

// ImportTokenValidity is how long AWS's import tokens and wrapping keys
// last; the keyring enforces it (ErrExpiredImportToken).
const ImportTokenValidity = 24 * time.Hour

const (
	importAESKeySize         = 32   // the RSA_AES_* ephemeral key: AES-256
	maxEncryptedKeyMaterial  = 6144 // AWS's EncryptedKeyMaterial limit
	wrappingKeySpecsAccepted = "RSA_2048, RSA_3072, RSA_4096"
)

// NewWrappingKey creates the RSA key pair GetParametersForImport hands out
// (WrappingKeySpec RSA_2048, RSA_3072 or RSA_4096); its
// [Material.PublicKey] is the response's PublicKey.
func NewWrappingKey(spec string, rand io.Reader) (*Material, error) {
	if spec != RSA2048 && spec != RSA3072 && spec != RSA4096 {
		return nil, fmt.Errorf("%w: wrapping key spec must be one of %s", keyring.ErrValidation, wrappingKeySpecsAccepted)
	}
	return Generate(spec, rand)
}

// CheckImportParameters validates a GetParametersForImport request for a
// key of spec: the wrapping algorithm and wrapping key spec must be AWS's,
// and RSA private keys (too long for RSAES-OAEP) need an RSA_AES algorithm.
func CheckImportParameters(spec, wrappingAlg, wrappingSpec string) error {
	si, err := lookup(spec)
	if err != nil {
		return err
	}
	if wrappingSpec != RSA2048 && wrappingSpec != RSA3072 && wrappingSpec != RSA4096 {
		return fmt.Errorf("%w: wrapping key spec must be one of %s", keyring.ErrValidation, wrappingKeySpecsAccepted)
	}
	switch wrappingAlg {
	case WrapRSAAESKeyWrapSHA1, WrapRSAAESKeyWrapSHA256:
		return nil
	case WrapRSAESOAEPSHA1, WrapRSAESOAEPSHA256:
		if si.kind == kindRSA {
			return fmt.Errorf("%w: RSA key material needs an RSA_AES_KEY_WRAP wrapping algorithm", keyring.ErrValidation)
		}
		return nil
	case wrapRSAESPKCS1V15:
		return fmt.Errorf("%w: wrapping algorithm %s is no longer supported", keyring.ErrUnsupported, wrappingAlg)
	}
	return fmt.Errorf("%w: unknown wrapping algorithm %q", keyring.ErrValidation, wrappingAlg)
}

// UnwrapImportedMaterial decrypts ImportKeyMaterial's EncryptedKeyMaterial
// with the private half of wrappingKey:
//
//   - RSAES_OAEP_SHA_1 / _SHA_256: RSAES-OAEP of the material, MGF1 with the
//     same hash, no label;
//   - RSA_AES_KEY_WRAP_SHA_1 / _SHA_256: the RSAES-OAEP encryption of a
//     fresh AES-256 key (as long as the RSA modulus), followed by the
//     material wrapped under that key with AES Key Wrap with Padding
//     (RFC 5649, tink-go's kwp/subtle), as `openssl pkeyutl` and
//     `openssl enc -id-aes256-wrap-pad` make it in AWS's documentation.
//     tink unwraps 16 to 8192 bytes of material; AWS's is 28 (HMAC_224)
//     to about 2.4 KB (RSA_4096 PKCS#8), and EncryptedKeyMaterial's 6144
//     bytes cap the wrapped part below tink's maximum anyway.
//
// Ciphertext that does not decrypt is keyring.ErrInvalidCiphertext, with
// no detail. Check the result with [ParseMaterial]; the caller owns and
// should zero it.
func UnwrapImportedMaterial(wrappingKey *Material, alg string, encrypted []byte) ([]byte, error) {
	if wrappingKey == nil || wrappingKey.rsa == nil {
		return nil, fmt.Errorf("%w: keyspec: wrapping key is not an RSA key", keyring.ErrInternal)
	}
	if len(encrypted) == 0 || len(encrypted) > maxEncryptedKeyMaterial {
		return nil, fmt.Errorf("%w: encrypted key material must be 1 to %d bytes", keyring.ErrValidation, maxEncryptedKeyMaterial)
	}
	oaep := map[string]string{
		WrapRSAESOAEPSHA1: RSAESOAEPSHA1, WrapRSAESOAEPSHA256: RSAESOAEPSHA256,
		WrapRSAAESKeyWrapSHA1: RSAESOAEPSHA1, WrapRSAAESKeyWrapSHA256: RSAESOAEPSHA256,
	}[alg]
	if oaep == "" {
		return nil, fmt.Errorf("%w: unknown wrapping algorithm %q", keyring.ErrValidation, alg)
	}
	k := wrappingKey.rsa.Size()
	if alg == WrapRSAESOAEPSHA1 || alg == WrapRSAESOAEPSHA256 {
		return wrappingKey.Decrypt(oaep, encrypted)
	}
	if len(encrypted) <= k {
		return nil, keyring.ErrInvalidCiphertext
	}
	aesKey, err := wrappingKey.Decrypt(oaep, encrypted[:k])
	if err != nil {
		return nil, err
	}
	defer zero(aesKey)
	if len(aesKey) != importAESKeySize {
		return nil, keyring.ErrInvalidCiphertext
	}
	w, err := kwp.NewKWP(aesKey)
	if err != nil {
		return nil, keyring.ErrInvalidCiphertext
	}
	// tink's errors name sizes only, but none is passed on: any failure is
	// the same opaque ErrInvalidCiphertext.
	pt, err := w.Unwrap(encrypted[k:])
	if err != nil {
		return nil, keyring.ErrInvalidCiphertext
	}
	return pt[:len(pt):len(pt)], nil
}
