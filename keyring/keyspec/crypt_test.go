package keyspec_test

import (
	"bytes"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"errors"
	"fmt"
	"hash"
	"testing"

	"github.com/kmsfs/kmsfs/keyring"
	"github.com/kmsfs/kmsfs/keyring/keyspec"
)

func TestEncryptDecrypt(t *testing.T) {
	limits := map[string][2]int{"RSA_2048": {214, 190}, "RSA_3072": {342, 318}, "RSA_4096": {470, 446}}
	for _, spec := range []string{"RSA_2048", "RSA_3072", "RSA_4096"} {
		m := generate(t, spec)
		_, pub := publicKey(t, m)
		for i, alg := range []string{keyspec.RSAESOAEPSHA1, keyspec.RSAESOAEPSHA256} {
			limit := limits[spec][i]
			t.Run(fmt.Sprintf("%s/%s/len=%d", spec, alg, limit), func(t *testing.T) {
				if got := keyspec.MaxPlaintext(spec, alg); got != limit {
					t.Fatalf("MaxPlaintext = %d, want AWS's %d", got, limit)
				}
				pt := bytes.Repeat([]byte{0xa5}, limit)
				ct, err := m.Encrypt(rand.Reader, alg, pt)
				if err != nil {
					t.Fatal(err)
				}
				if got, err := m.Decrypt(alg, ct); err != nil || !bytes.Equal(got, pt) {
					t.Fatalf("Decrypt: %v", err)
				}
				if _, err := m.Encrypt(rand.Reader, alg, append(pt, 0)); !errors.Is(err, keyring.ErrValidation) {
					t.Errorf("one byte past the limit: %v, want ErrValidation", err)
				}
				// A ciphertext made outside with the public key decrypts.
				var h hash.Hash = sha256.New()
				if alg == keyspec.RSAESOAEPSHA1 {
					h = sha1.New()
				}
				ext, err := rsa.EncryptOAEP(h, rand.Reader, pub.(*rsa.PublicKey), pt[:10], nil)
				if err != nil {
					t.Fatal(err)
				}
				if got, err := m.Decrypt(alg, ext); err != nil || !bytes.Equal(got, pt[:10]) {
					t.Fatalf("Decrypt of outside ciphertext: %v", err)
				}
				ct[len(ct)/2] ^= 1
				if _, err := m.Decrypt(alg, ct); !errors.Is(err, keyring.ErrInvalidCiphertext) {
					t.Errorf("tampered ciphertext: %v, want ErrInvalidCiphertext", err)
				}
			})
		}
	}
	m := generate(t, "RSA_2048")
	for _, alg := range []string{"SYMMETRIC_DEFAULT", "SM2PKE", "RSAES_PKCS1_V1_5"} {
		if _, err := m.Encrypt(rand.Reader, alg, []byte("x")); !errors.Is(err, keyspec.ErrInvalidKeyUsage) {
			t.Errorf("Encrypt with %s: %v, want ErrInvalidKeyUsage", alg, err)
		}
	}
	if _, err := m.Encrypt(rand.Reader, keyspec.RSAESOAEPSHA256, nil); !errors.Is(err, keyring.ErrValidation) {
		t.Errorf("empty plaintext: %v", err)
	}
	if _, err := generate(t, "ECC_NIST_P256").Encrypt(rand.Reader, keyspec.RSAESOAEPSHA256, []byte("x")); !errors.Is(err, keyspec.ErrInvalidKeyUsage) {
		t.Errorf("Encrypt with an ECC key: %v", err)
	}
}

func TestMac(t *testing.T) {
	specs := map[string]struct {
		alg  string
		h    func() hash.Hash
		size int
	}{
		"HMAC_224": {"HMAC_SHA_224", sha256.New224, 28}, "HMAC_256": {"HMAC_SHA_256", sha256.New, 32},
		"HMAC_384": {"HMAC_SHA_384", sha512.New384, 48}, "HMAC_512": {"HMAC_SHA_512", sha512.New, 64},
	}
	msg := []byte("message")
	for spec, c := range specs {
		t.Run(spec, func(t *testing.T) {
			m := generate(t, spec)
			key, err := m.Bytes()
			if err != nil || len(key) != c.size {
				t.Fatalf("key of %d bytes (%v), want %d", len(key), err, c.size)
			}
			mac, err := m.GenerateMac(c.alg, msg)
			if err != nil {
				t.Fatal(err)
			}
			want := hmac.New(c.h, key)
			want.Write(msg)
			if !hmac.Equal(mac, want.Sum(nil)) {
				t.Fatal("MAC differs from crypto/hmac's")
			}
			if err := m.VerifyMac(c.alg, msg, mac); err != nil {
				t.Fatalf("VerifyMac: %v", err)
			}
			for _, bad := range [][]byte{flip(mac, 0), flip(mac, len(mac)-1), mac[:len(mac)-1], append(mac, 0)} {
				if err := m.VerifyMac(c.alg, msg, bad); !errors.Is(err, keyspec.ErrInvalidMac) {
					t.Errorf("bad MAC: %v, want ErrInvalidMac", err)
				}
			}
			if err := m.VerifyMac(c.alg, flip(msg, 0), mac); !errors.Is(err, keyspec.ErrInvalidMac) {
				t.Errorf("tampered message: %v, want ErrInvalidMac", err)
			}
			if _, err := m.GenerateMac("HMAC_SHA_1", msg); !errors.Is(err, keyspec.ErrInvalidKeyUsage) {
				t.Errorf("wrong algorithm: %v", err)
			}
			if _, err := m.GenerateMac(c.alg, make([]byte, 4097)); !errors.Is(err, keyring.ErrValidation) {
				t.Errorf("4097-byte message: %v", err)
			}
		})
	}
	if _, err := generate(t, "HMAC_256").GenerateMac("HMAC_SHA_512", msg); !errors.Is(err, keyspec.ErrInvalidKeyUsage) {
		t.Errorf("HMAC_SHA_512 on HMAC_256: %v", err)
	}
}

func flip(b []byte, i int) []byte {
	c := append([]byte(nil), b...)
	c[i] ^= 1
	return c
}

func TestDeriveSharedSecret(t *testing.T) {
	curves := map[string]ecdh.Curve{"ECC_NIST_P256": ecdh.P256(), "ECC_NIST_P384": ecdh.P384(), "ECC_NIST_P521": ecdh.P521()}
	for spec, curve := range curves {
		t.Run(spec, func(t *testing.T) {
			m := generate(t, spec)
			der, _ := publicKey(t, m)
			peer, err := curve.GenerateKey(rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			peerDER, err := x509.MarshalPKIXPublicKey(peer.PublicKey())
			if err != nil {
				t.Fatal(err)
			}
			got, err := m.DeriveSharedSecret(keyspec.ECDH, peerDER)
			if err != nil {
				t.Fatal(err)
			}
			kmsPub, err := x509.ParsePKIXPublicKey(der)
			if err != nil {
				t.Fatal(err)
			}
			kp, err := kmsPub.(*ecdsa.PublicKey).ECDH()
			if err != nil {
				t.Fatal(err)
			}
			want, err := peer.ECDH(kp)
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("shared secrets differ (%v)", err)
			}
			if _, err := m.DeriveSharedSecret("ECDH_COFACTOR", peerDER); !errors.Is(err, keyspec.ErrInvalidKeyUsage) {
				t.Errorf("unknown algorithm: %v", err)
			}
		})
	}
	m := generate(t, "ECC_NIST_P256")
	other, _ := publicKey(t, generate(t, "ECC_NIST_P384"))
	ed, _ := publicKey(t, generate(t, "ECC_NIST_EDWARDS25519"))
	for name, peer := range map[string][]byte{"other curve": other, "Ed25519": ed, "garbage": []byte("not DER"), "empty": nil, "too long": make([]byte, 8193)} {
		if _, err := m.DeriveSharedSecret(keyspec.ECDH, peer); !errors.Is(err, keyring.ErrValidation) {
			t.Errorf("%s: %v, want ErrValidation", name, err)
		}
	}
	if _, err := generate(t, "ECC_NIST_EDWARDS25519").DeriveSharedSecret(keyspec.ECDH, other); !errors.Is(err, keyspec.ErrInvalidKeyUsage) {
		t.Errorf("ECDH with Ed25519: %v", err)
	}
}

func TestGenerateDataKeyPair(t *testing.T) {
	for _, spec := range []string{"RSA_2048", "RSA_3072", "RSA_4096", "ECC_NIST_P256", "ECC_NIST_P384", "ECC_NIST_P521", "ECC_NIST_EDWARDS25519"} {
		t.Run(spec, func(t *testing.T) {
			priv, pub, err := keyspec.GenerateDataKeyPair(spec, rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			k, err := x509.ParsePKCS8PrivateKey(priv)
			if err != nil {
				t.Fatalf("private key is not PKCS#8: %v", err)
			}
			p, err := x509.ParsePKIXPublicKey(pub)
			if err != nil {
				t.Fatalf("public key is not SPKI: %v", err)
			}
			if !p.(interface{ Equal(crypto.PublicKey) bool }).Equal(k.(crypto.Signer).Public()) {
				t.Fatal("public half does not match the private half")
			}
			// The private half signs what the public half verifies.
			m, err := keyspec.ParseMaterial(spec, priv)
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := m.PublicKey(); !bytes.Equal(got, pub) {
				t.Fatal("ParseMaterial(private).PublicKey() differs from the public half")
			}
		})
	}
	for spec, want := range map[string]error{"SM2": keyring.ErrUnsupported, "ML_KEM_768": keyring.ErrUnsupported, "HMAC_256": keyring.ErrValidation, "SYMMETRIC_DEFAULT": keyring.ErrValidation, "RSA_1024": keyring.ErrValidation} {
		if _, _, err := keyspec.GenerateDataKeyPair(spec, rand.Reader); !errors.Is(err, want) {
			t.Errorf("GenerateDataKeyPair(%s) = %v, want %v", spec, err, want)
		}
	}
}
