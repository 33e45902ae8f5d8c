package keyspec_test

import (
	"bytes"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/x509"
	"testing"

	"github.com/kmsfs/kmsfs/keyring/keyspec"
)

var fuzzSpecs = []string{"SYMMETRIC_DEFAULT", "HMAC_224", "HMAC_512", "RSA_2048", "ECC_NIST_P256", "ECC_NIST_P521", "ECC_NIST_EDWARDS25519", "ECC_SECG_P256K1"}

// FuzzParseMaterial: no panic on any bytes; material that parses
// serialises back to the same bytes.
func FuzzParseMaterial(f *testing.F) {
	for i, spec := range fuzzSpecs {
		b, err := generate(f, spec).Bytes()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(uint8(i), b)
		f.Add(uint8(i), b[:len(b)/2])
	}
	f.Fuzz(func(t *testing.T, i uint8, b []byte) {
		spec := fuzzSpecs[int(i)%len(fuzzSpecs)]
		m, err := keyspec.ParseMaterial(spec, b)
		if err != nil {
			return
		}
		out, err := m.Bytes()
		if err != nil {
			t.Fatalf("Bytes: %v", err)
		}
		if !bytes.Equal(out, b) {
			// PKCS#8 has non-canonical encodings Go accepts; they must at
			// least re-parse to the same key.
			again, err := keyspec.ParseMaterial(spec, out)
			if err != nil || !again.Equal(m) {
				t.Fatalf("%s material does not round-trip: %v", spec, err)
			}
		}
	})
}

// FuzzDeriveSharedSecret: no panic on any peer public key.
func FuzzDeriveSharedSecret(f *testing.F) {
	m := generate(f, "ECC_NIST_P256")
	for _, c := range []ecdh.Curve{ecdh.P256(), ecdh.P384(), ecdh.X25519()} {
		k, err := c.GenerateKey(rand.Reader)
		if err != nil {
			f.Fatal(err)
		}
		der, err := x509.MarshalPKIXPublicKey(k.PublicKey())
		if err != nil {
			f.Fatal(err)
		}
		f.Add(der)
	}
	f.Fuzz(func(t *testing.T, peer []byte) {
		secret, err := m.DeriveSharedSecret(keyspec.ECDH, peer)
		if err == nil && len(secret) != 32 {
			t.Fatalf("P-256 shared secret of %d bytes", len(secret))
		}
	})
}

// FuzzUnwrapImportedMaterial: no panic on any EncryptedKeyMaterial.
func FuzzUnwrapImportedMaterial(f *testing.F) {
	wk, err := keyspec.NewWrappingKey(keyspec.RSA2048, rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	algs := []string{keyspec.WrapRSAESOAEPSHA1, keyspec.WrapRSAESOAEPSHA256, keyspec.WrapRSAAESKeyWrapSHA1, keyspec.WrapRSAAESKeyWrapSHA256}
	f.Add(uint8(0), make([]byte, 256))
	f.Add(uint8(3), make([]byte, 256+40))
	f.Fuzz(func(t *testing.T, a uint8, enc []byte) {
		_, _ = keyspec.UnwrapImportedMaterial(wk, algs[int(a)%len(algs)], enc)
	})
}
