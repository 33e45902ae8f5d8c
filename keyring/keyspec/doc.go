// Package keyspec is the cryptography of AWS KMS key types with AWS's
// rules: which KeySpec takes which KeyUsage, which algorithms a key lists
// and in what order, message and plaintext limits, and the exact encodings
// AWS clients verify outside KMS.
//
// # What it owns
//
//   - Key material per KeySpec: [Generate], [ParseMaterial], [Material.Bytes]
//     (raw bytes for SYMMETRIC_DEFAULT and HMAC_*, PKCS#8 DER for private
//     keys) and [Material.PublicKey] (DER SubjectPublicKeyInfo).
//   - The KeySpec × KeyUsage matrix ([CheckKeySpec]), the algorithm lists
//     of DescribeKey and GetPublicKey ([AlgorithmsFor]), which operation a
//     key may serve ([CheckOperation]) and the refusal of automatic
//     rotation for asymmetric and HMAC keys ([CheckAutomaticRotation]).
//   - Sign and Verify (RSASSA-PSS with salt = hash length, RSASSA-PKCS1-v1_5,
//     DER ECDSA, Ed25519 and Ed25519ph) with RAW and DIGEST messages;
//     ECC_SECG_P256K1 (SIGN_VERIFY, ECDSA_SHA_256 only, as at AWS) with
//     github.com/decred/dcrd/dcrec/secp256k1/v4, whose DER encodings
//     (SubjectPublicKeyInfo, PKCS#8 around an RFC 5915 ECPrivateKey,
//     signatures) this package writes and reads with cryptobyte;
//     RSAES-OAEP Encrypt and Decrypt within AWS's plaintext limits
//     ([MaxPlaintext]); HMAC GenerateMac and VerifyMac; ECDH
//     DeriveSharedSecret; data key pairs ([GenerateDataKeyPair]).
//   - BYOK: wrapping keys ([NewWrappingKey]), parameter checks
//     ([CheckImportParameters]) and unwrapping of imported material
//     ([UnwrapImportedMaterial]) with RSAES-OAEP or RSA-OAEP + AES Key Wrap
//     with Padding (RFC 5649). KWP is not this package's: it is
//     github.com/tink-crypto/tink-go/v2/kwp/subtle (NIST SP 800-38F KWP,
//     16 to 8192 bytes of material, AES-128 or AES-256 key; BYOK uses
//     AES-256).
//
// # What it refuses
//
// Storage and sealing of material, key states, import tokens, policies,
// auditing and transport are the keyring's. Key specs AWS has but this
// package cannot implement with the standard library, golang.org/x/crypto
// and decred's secp256k1 (SM2, ML_DSA_*, ML_KEM_*) are
// keyring.ErrUnsupported.
//
// # Errors
//
// Request errors wrap keyring.ErrValidation; unsupported specs wrap
// keyring.ErrUnsupported; undecryptable ciphertext is
// keyring.ErrInvalidCiphertext. This package adds sentinels that keyring's
// error table must map to AWS names:
//
//	ErrInvalidKeyUsage       InvalidKeyUsageException
//	ErrInvalidSignature      KMSInvalidSignatureException
//	ErrInvalidMac            KMSInvalidMacException
//	ErrIncorrectKeyMaterial  IncorrectKeyMaterialException
//	ErrExpiredImportToken    ExpiredImportTokenException
//	ErrInvalidImportToken    InvalidImportTokenException
//
// No error carries key material, plaintext or a shared secret.
//
// # Zeroing
//
// [Material.Zero] overwrites symmetric, HMAC, Ed25519 and secp256k1
// secrets. RSA and NIST ECDSA private keys live in math/big and crypto-internal values Go gives
// no way to overwrite; Zero only drops them. Slices returned to the caller
// (Bytes, plaintexts, shared secrets, PKCS#8 data key pairs) are the
// caller's to zero.
package keyspec
