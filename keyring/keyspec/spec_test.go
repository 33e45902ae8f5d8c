package keyspec_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/kmsfs/kmsfs/keyring"
	"github.com/kmsfs/kmsfs/keyring/keyspec"
)

func TestCheckKeySpec(t *testing.T) {
	const (
		ed = keyspec.UsageEncryptDecrypt
		sv = keyspec.UsageSignVerify
		mc = keyspec.UsageGenerateVerifyMAC
		ka = keyspec.UsageKeyAgreement
	)
	valid := map[string][]string{
		"SYMMETRIC_DEFAULT": {ed}, "RSA_2048": {ed, sv}, "RSA_3072": {ed, sv}, "RSA_4096": {ed, sv},
		"ECC_NIST_P256": {sv, ka}, "ECC_NIST_P384": {sv, ka}, "ECC_NIST_P521": {sv, ka},
		"ECC_NIST_EDWARDS25519": {sv}, "ECC_SECG_P256K1": {sv},
		"HMAC_224": {mc}, "HMAC_256": {mc}, "HMAC_384": {mc}, "HMAC_512": {mc},
	}
	for spec, usages := range valid {
		for _, usage := range []string{ed, sv, mc, ka} {
			got, err := keyspec.CheckKeySpec(spec, usage)
			ok := false
			for _, u := range usages {
				ok = ok || u == usage
			}
			switch {
			case ok && (err != nil || got != usage):
				t.Errorf("CheckKeySpec(%s, %s) = %q, %v; want valid", spec, usage, got, err)
			case !ok && !errors.Is(err, keyring.ErrValidation):
				t.Errorf("CheckKeySpec(%s, %s) = %v; want ErrValidation", spec, usage, err)
			}
		}
	}
	tests := []struct {
		spec, usage, want string
		err               error
	}{
		{"", "", ed, nil},
		{"RSA_2048", "", ed, nil},
		{"ECC_NIST_P256", "", "", keyring.ErrValidation},
		{"HMAC_256", "", "", keyring.ErrValidation},
		{"RSA_1024", sv, "", keyring.ErrValidation},
		{"RSA_2048", "WRAP", "", keyring.ErrValidation},
		{"ECC_SECG_P256K1", "", "", keyring.ErrValidation},
		{"ECC_SECG_P256K1", ka, "", keyring.ErrValidation},
		{"SM2", sv, "", keyring.ErrUnsupported},
		{"ML_DSA_65", sv, "", keyring.ErrUnsupported},
	}
	for _, tt := range tests {
		got, err := keyspec.CheckKeySpec(tt.spec, tt.usage)
		if got != tt.want || !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
			t.Errorf("CheckKeySpec(%q, %q) = %q, %v; want %q, %v", tt.spec, tt.usage, got, err, tt.want, tt.err)
		}
	}
}

func TestAlgorithmsFor(t *testing.T) {
	rsaSign := []string{"RSASSA_PKCS1_V1_5_SHA_256", "RSASSA_PKCS1_V1_5_SHA_384", "RSASSA_PKCS1_V1_5_SHA_512",
		"RSASSA_PSS_SHA_256", "RSASSA_PSS_SHA_384", "RSASSA_PSS_SHA_512"}
	tests := []struct {
		spec, usage string
		want        keyspec.Algorithms
	}{
		{"SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT", keyspec.Algorithms{EncryptionAlgorithms: []string{"SYMMETRIC_DEFAULT"}}},
		{"RSA_2048", "SIGN_VERIFY", keyspec.Algorithms{SigningAlgorithms: rsaSign}},
		{"RSA_4096", "ENCRYPT_DECRYPT", keyspec.Algorithms{EncryptionAlgorithms: []string{"RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"}}},
		{"ECC_NIST_P256", "SIGN_VERIFY", keyspec.Algorithms{SigningAlgorithms: []string{"ECDSA_SHA_256"}}},
		{"ECC_NIST_P384", "SIGN_VERIFY", keyspec.Algorithms{SigningAlgorithms: []string{"ECDSA_SHA_384"}}},
		{"ECC_NIST_P521", "SIGN_VERIFY", keyspec.Algorithms{SigningAlgorithms: []string{"ECDSA_SHA_512"}}},
		{"ECC_NIST_P384", "KEY_AGREEMENT", keyspec.Algorithms{KeyAgreementAlgorithms: []string{"ECDH"}}},
		{"ECC_NIST_EDWARDS25519", "SIGN_VERIFY", keyspec.Algorithms{SigningAlgorithms: []string{"ED25519_SHA_512", "ED25519_PH_SHA_512"}}},
		{"ECC_SECG_P256K1", "SIGN_VERIFY", keyspec.Algorithms{SigningAlgorithms: []string{"ECDSA_SHA_256"}}},
		{"ECC_SECG_P256K1", "KEY_AGREEMENT", keyspec.Algorithms{}},
		{"HMAC_224", "GENERATE_VERIFY_MAC", keyspec.Algorithms{MacAlgorithms: []string{"HMAC_SHA_224"}}},
		{"HMAC_512", "GENERATE_VERIFY_MAC", keyspec.Algorithms{MacAlgorithms: []string{"HMAC_SHA_512"}}},
		{"ECC_NIST_P256", "ENCRYPT_DECRYPT", keyspec.Algorithms{}},
		{"SM2", "SIGN_VERIFY", keyspec.Algorithms{}},
	}
	for _, tt := range tests {
		if got := keyspec.AlgorithmsFor(tt.spec, tt.usage); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("AlgorithmsFor(%s, %s) = %+v, want %+v", tt.spec, tt.usage, got, tt.want)
		}
	}
	// Callers may edit the lists they get.
	a := keyspec.AlgorithmsFor("RSA_2048", "SIGN_VERIFY")
	a.SigningAlgorithms[0] = "x"
	if keyspec.AlgorithmsFor("RSA_2048", "SIGN_VERIFY").SigningAlgorithms[0] != rsaSign[0] {
		t.Error("AlgorithmsFor returned a shared slice")
	}
}

func TestCheckOperation(t *testing.T) {
	tests := []struct {
		spec, usage, op string
		want            error
	}{
		{"SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT", "GenerateDataKeyPair", nil},
		{"SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT", "Sign", keyspec.ErrInvalidKeyUsage},
		{"SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT", "GetPublicKey", keyring.ErrUnsupported},
		{"HMAC_256", "GENERATE_VERIFY_MAC", "GetPublicKey", keyring.ErrUnsupported},
		{"HMAC_256", "GENERATE_VERIFY_MAC", "VerifyMac", nil},
		{"HMAC_256", "GENERATE_VERIFY_MAC", "Encrypt", keyspec.ErrInvalidKeyUsage},
		{"RSA_2048", "ENCRYPT_DECRYPT", "Encrypt", nil},
		{"RSA_2048", "ENCRYPT_DECRYPT", "GenerateDataKey", keyspec.ErrInvalidKeyUsage},
		{"RSA_2048", "ENCRYPT_DECRYPT", "Sign", keyspec.ErrInvalidKeyUsage},
		{"RSA_2048", "SIGN_VERIFY", "Decrypt", keyspec.ErrInvalidKeyUsage},
		{"RSA_2048", "SIGN_VERIFY", "GetPublicKey", nil},
		{"ECC_NIST_P256", "KEY_AGREEMENT", "DeriveSharedSecret", nil},
		{"ECC_NIST_P256", "SIGN_VERIFY", "DeriveSharedSecret", keyspec.ErrInvalidKeyUsage},
		{"ECC_NIST_P256", "KEY_AGREEMENT", "Verify", keyspec.ErrInvalidKeyUsage},
		{"ECC_NIST_P256", "KEY_AGREEMENT", "Frobnicate", keyring.ErrValidation},
		{"ECC_SECG_P256K1", "SIGN_VERIFY", "Sign", nil},
		{"ECC_SECG_P256K1", "SIGN_VERIFY", "GetPublicKey", nil},
		{"ECC_SECG_P256K1", "SIGN_VERIFY", "DeriveSharedSecret", keyspec.ErrInvalidKeyUsage},
		{"ECC_SECG_P256K1", "SIGN_VERIFY", "Encrypt", keyspec.ErrInvalidKeyUsage},
	}
	for _, tt := range tests {
		err := keyspec.CheckOperation(tt.spec, tt.usage, tt.op)
		if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
			t.Errorf("CheckOperation(%s, %s, %s) = %v, want %v", tt.spec, tt.usage, tt.op, err, tt.want)
		}
	}
	for spec, want := range map[string]error{"SYMMETRIC_DEFAULT": nil, "RSA_2048": keyring.ErrUnsupported, "HMAC_256": keyring.ErrUnsupported, "ECC_NIST_EDWARDS25519": keyring.ErrUnsupported, "ECC_SECG_P256K1": keyring.ErrUnsupported} {
		if err := keyspec.CheckAutomaticRotation(spec); !errors.Is(err, want) || (want == nil) != (err == nil) {
			t.Errorf("CheckAutomaticRotation(%s) = %v, want %v", spec, err, want)
		}
	}
}
