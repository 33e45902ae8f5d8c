package keyspec

import (
	"crypto"
	"fmt"
	"slices"

	"github.com/kmsfs/kmsfs/keyring"
)

// Key specs (AWS KMS KeySpec values).
const (
	SymmetricDefault = "SYMMETRIC_DEFAULT"
	RSA2048          = "RSA_2048"
	RSA3072          = "RSA_3072"
	RSA4096          = "RSA_4096"
	ECCNISTP256      = "ECC_NIST_P256"
	ECCNISTP384      = "ECC_NIST_P384"
	ECCNISTP521      = "ECC_NIST_P521"
	ECCSECGP256K1    = "ECC_SECG_P256K1"
	ECCEd25519       = "ECC_NIST_EDWARDS25519"
	HMAC224          = "HMAC_224"
	HMAC256          = "HMAC_256"
	HMAC384          = "HMAC_384"
	HMAC512          = "HMAC_512"
)

// Key usages (AWS KMS KeyUsage values).
const (
	UsageEncryptDecrypt    = "ENCRYPT_DECRYPT"
	UsageSignVerify        = "SIGN_VERIFY"
	UsageGenerateVerifyMAC = "GENERATE_VERIFY_MAC"
	UsageKeyAgreement      = "KEY_AGREEMENT"
)

// Message types of Sign and Verify.
const (
	MessageRaw    = "RAW"
	MessageDigest = "DIGEST"
)

// MaxMessage is the largest Message of Sign, Verify, GenerateMac and
// VerifyMac, and the largest Plaintext of Encrypt (AWS's limit).
const MaxMessage = 4096

// Algorithm names (AWS KMS enums).
const (
	SymmetricDefaultAlg = "SYMMETRIC_DEFAULT"
	RSAESOAEPSHA1       = "RSAES_OAEP_SHA_1"
	RSAESOAEPSHA256     = "RSAES_OAEP_SHA_256"

	RSASSAPSSSHA256      = "RSASSA_PSS_SHA_256"
	RSASSAPSSSHA384      = "RSASSA_PSS_SHA_384"
	RSASSAPSSSHA512      = "RSASSA_PSS_SHA_512"
	RSASSAPKCS1V15SHA256 = "RSASSA_PKCS1_V1_5_SHA_256"
	RSASSAPKCS1V15SHA384 = "RSASSA_PKCS1_V1_5_SHA_384"
	RSASSAPKCS1V15SHA512 = "RSASSA_PKCS1_V1_5_SHA_512"
	ECDSASHA256          = "ECDSA_SHA_256"
	ECDSASHA384          = "ECDSA_SHA_384"
	ECDSASHA512          = "ECDSA_SHA_512"
	Ed25519SHA512        = "ED25519_SHA_512"
	Ed25519PHSHA512      = "ED25519_PH_SHA_512"

	HMACSHA224 = "HMAC_SHA_224"
	HMACSHA256 = "HMAC_SHA_256"
	HMACSHA384 = "HMAC_SHA_384"
	HMACSHA512 = "HMAC_SHA_512"

	ECDH = "ECDH"
)

// kind is the family of a key spec.
type kind int

const (
	kindSymmetric kind = iota + 1
	kindHMAC
	kindRSA
	kindECDSA
	kindEd25519
	kindSecp256k1 // ECC_SECG_P256K1: decred's secp256k1, not crypto/ecdsa
)

type specInfo struct {
	kind   kind
	bits   int // RSA modulus bits, HMAC key bits
	usages []string
	// hmac: the MAC algorithm and imported length range in bytes.
	mac            string
	minLen, maxLen int
	// ecdsa, secp256k1: the one signing algorithm AWS lists.
	ecdsaAlg string
}

var rsaUsages = []string{UsageEncryptDecrypt, UsageSignVerify}
var eccUsages = []string{UsageSignVerify, UsageKeyAgreement}

// specs are the key specs this package implements. HMAC imported lengths
// follow AWS's "Requirements for imported key material".
var specs = map[string]specInfo{
	SymmetricDefault: {kind: kindSymmetric, bits: 256, usages: []string{UsageEncryptDecrypt}, minLen: 32, maxLen: 32},
	RSA2048:          {kind: kindRSA, bits: 2048, usages: rsaUsages},
	RSA3072:          {kind: kindRSA, bits: 3072, usages: rsaUsages},
	RSA4096:          {kind: kindRSA, bits: 4096, usages: rsaUsages},
	ECCNISTP256:      {kind: kindECDSA, usages: eccUsages, ecdsaAlg: ECDSASHA256},
	ECCNISTP384:      {kind: kindECDSA, usages: eccUsages, ecdsaAlg: ECDSASHA384},
	ECCNISTP521:      {kind: kindECDSA, usages: eccUsages, ecdsaAlg: ECDSASHA512},
	ECCEd25519:       {kind: kindEd25519, usages: []string{UsageSignVerify}},
	ECCSECGP256K1:    {kind: kindSecp256k1, usages: []string{UsageSignVerify}, ecdsaAlg: ECDSASHA256}, // no KEY_AGREEMENT at AWS
	HMAC224:          {kind: kindHMAC, bits: 224, usages: []string{UsageGenerateVerifyMAC}, mac: HMACSHA224, minLen: 28, maxLen: 64},
	HMAC256:          {kind: kindHMAC, bits: 256, usages: []string{UsageGenerateVerifyMAC}, mac: HMACSHA256, minLen: 32, maxLen: 64},
	HMAC384:          {kind: kindHMAC, bits: 384, usages: []string{UsageGenerateVerifyMAC}, mac: HMACSHA384, minLen: 48, maxLen: 128},
	HMAC512:          {kind: kindHMAC, bits: 512, usages: []string{UsageGenerateVerifyMAC}, mac: HMACSHA512, minLen: 64, maxLen: 128},
}

// unsupportedSpecs are AWS key specs this package refuses with
// keyring.ErrUnsupported: SM2 (China Regions only), ML-DSA and ML-KEM (no
// standard Go library here).
var unsupportedSpecs = []string{"SM2", "ML_DSA_44", "ML_DSA_65", "ML_DSA_87", "ML_KEM_512", "ML_KEM_768", "ML_KEM_1024"}

var knownUsages = []string{UsageEncryptDecrypt, UsageSignVerify, UsageGenerateVerifyMAC, UsageKeyAgreement}

// lookup returns the spec's info, or the error AWS gives for it.
func lookup(spec string) (specInfo, error) {
	if si, ok := specs[spec]; ok {
		return si, nil
	}
	if slices.Contains(unsupportedSpecs, spec) {
		return specInfo{}, fmt.Errorf("%w: key spec %s is not supported", keyring.ErrUnsupported, spec)
	}
	return specInfo{}, fmt.Errorf("%w: unknown key spec %q", keyring.ErrValidation, spec)
}

// CheckKeySpec validates a CreateKey's KeySpec and KeyUsage and returns the
// usage the key gets. An empty spec is SYMMETRIC_DEFAULT; an empty usage is
// ENCRYPT_DECRYPT, AWS's default, which a spec that cannot encrypt refuses.
// A spec outside AWS's enum or a usage the spec does not allow is
// keyring.ErrValidation; an AWS spec this package lacks is
// keyring.ErrUnsupported.
func CheckKeySpec(spec, usage string) (string, error) {
	if spec == "" {
		spec = SymmetricDefault
	}
	if usage == "" {
		usage = UsageEncryptDecrypt
	}
	si, err := lookup(spec)
	if err != nil {
		return "", err
	}
	if !slices.Contains(knownUsages, usage) {
		return "", fmt.Errorf("%w: unknown key usage %q", keyring.ErrValidation, usage)
	}
	if !slices.Contains(si.usages, usage) {
		return "", fmt.Errorf("%w: KeyUsage %s is not compatible with KeySpec %s", keyring.ErrValidation, usage, spec)
	}
	return usage, nil
}

// Algorithms are the algorithm lists of a key's metadata (DescribeKey,
// GetPublicKey); the field names are KeyMetadata's. Empty lists are nil.
type Algorithms struct {
	EncryptionAlgorithms   []string `json:",omitempty"`
	SigningAlgorithms      []string `json:",omitempty"`
	MacAlgorithms          []string `json:",omitempty"`
	KeyAgreementAlgorithms []string `json:",omitempty"`
}

// rsaSigning is the order AWS's DescribeKey lists RSA signing algorithms in.
var rsaSigning = []string{
	RSASSAPKCS1V15SHA256, RSASSAPKCS1V15SHA384, RSASSAPKCS1V15SHA512,
	RSASSAPSSSHA256, RSASSAPSSSHA384, RSASSAPSSSHA512,
}

// AlgorithmsFor returns the algorithm lists AWS fills for a key of this
// spec and usage, in AWS's order. The spec and usage must have passed
// [CheckKeySpec]; otherwise every list is empty.
func AlgorithmsFor(spec, usage string) Algorithms {
	si, ok := specs[spec]
	if !ok || !slices.Contains(si.usages, usage) {
		return Algorithms{}
	}
	switch {
	case si.kind == kindSymmetric:
		return Algorithms{EncryptionAlgorithms: []string{SymmetricDefaultAlg}}
	case si.kind == kindHMAC:
		return Algorithms{MacAlgorithms: []string{si.mac}}
	case usage == UsageKeyAgreement:
		return Algorithms{KeyAgreementAlgorithms: []string{ECDH}}
	case si.kind == kindRSA && usage == UsageEncryptDecrypt:
		return Algorithms{EncryptionAlgorithms: []string{RSAESOAEPSHA1, RSAESOAEPSHA256}}
	case si.kind == kindRSA:
		return Algorithms{SigningAlgorithms: slices.Clone(rsaSigning)}
	case si.kind == kindECDSA || si.kind == kindSecp256k1:
		return Algorithms{SigningAlgorithms: []string{si.ecdsaAlg}}
	default: // Ed25519
		return Algorithms{SigningAlgorithms: []string{Ed25519SHA512, Ed25519PHSHA512}}
	}
}

// Operation names, as AWS KMS names its actions.
const (
	OpEncrypt                             = "Encrypt"
	OpDecrypt                             = "Decrypt"
	OpReEncrypt                           = "ReEncrypt"
	OpGenerateDataKey                     = "GenerateDataKey"
	OpGenerateDataKeyWithoutPlaintext     = "GenerateDataKeyWithoutPlaintext"
	OpGenerateDataKeyPair                 = "GenerateDataKeyPair"
	OpGenerateDataKeyPairWithoutPlaintext = "GenerateDataKeyPairWithoutPlaintext"
	OpSign                                = "Sign"
	OpVerify                              = "Verify"
	OpGetPublicKey                        = "GetPublicKey"
	OpGenerateMac                         = "GenerateMac"
	OpVerifyMac                           = "VerifyMac"
	OpDeriveSharedSecret                  = "DeriveSharedSecret"
)

// CheckOperation says whether a key of this spec and usage may serve op:
// nil, ErrInvalidKeyUsage (InvalidKeyUsageException) for a usage or spec
// that does not fit, or keyring.ErrUnsupported for GetPublicKey on a
// symmetric key, as AWS answers. Data keys and data key pairs come from
// symmetric encryption keys only.
func CheckOperation(spec, usage, op string) error {
	si, err := lookup(spec)
	if err != nil {
		return err
	}
	symmetric := si.kind == kindSymmetric
	var ok bool
	switch op {
	case OpEncrypt, OpDecrypt, OpReEncrypt:
		ok = usage == UsageEncryptDecrypt
	case OpGenerateDataKey, OpGenerateDataKeyWithoutPlaintext, OpGenerateDataKeyPair, OpGenerateDataKeyPairWithoutPlaintext:
		ok = usage == UsageEncryptDecrypt && symmetric
	case OpSign, OpVerify:
		ok = usage == UsageSignVerify
	case OpGenerateMac, OpVerifyMac:
		ok = usage == UsageGenerateVerifyMAC
	case OpDeriveSharedSecret:
		ok = usage == UsageKeyAgreement
	case OpGetPublicKey:
		if symmetric || si.kind == kindHMAC {
			return fmt.Errorf("%w: %s keys have no public key", keyring.ErrUnsupported, spec)
		}
		ok = true
	default:
		return fmt.Errorf("%w: unknown operation %q", keyring.ErrValidation, op)
	}
	if !ok {
		return fmt.Errorf("%w: %s is not valid for a %s key of usage %s", ErrInvalidKeyUsage, op, spec, usage)
	}
	return nil
}

// CheckAutomaticRotation refuses automatic rotation of asymmetric and HMAC
// keys with keyring.ErrUnsupported, as AWS does.
func CheckAutomaticRotation(spec string) error {
	si, err := lookup(spec)
	if err != nil {
		return err
	}
	if si.kind != kindSymmetric {
		return fmt.Errorf("%w: automatic rotation of %s keys", keyring.ErrUnsupported, spec)
	}
	return nil
}

// hashes of the algorithms that name one.
var hashOf = map[string]crypto.Hash{
	RSAESOAEPSHA1: crypto.SHA1, RSAESOAEPSHA256: crypto.SHA256,
	RSASSAPSSSHA256: crypto.SHA256, RSASSAPSSSHA384: crypto.SHA384, RSASSAPSSSHA512: crypto.SHA512,
	RSASSAPKCS1V15SHA256: crypto.SHA256, RSASSAPKCS1V15SHA384: crypto.SHA384, RSASSAPKCS1V15SHA512: crypto.SHA512,
	ECDSASHA256: crypto.SHA256, ECDSASHA384: crypto.SHA384, ECDSASHA512: crypto.SHA512,
	Ed25519SHA512: crypto.SHA512, Ed25519PHSHA512: crypto.SHA512,
	HMACSHA224: crypto.SHA224, HMACSHA256: crypto.SHA256, HMACSHA384: crypto.SHA384, HMACSHA512: crypto.SHA512,
}
