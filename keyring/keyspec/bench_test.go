package keyspec_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"testing"

	"github.com/kmsfs/kmsfs/keyring/keyspec"
)

// benchCase is one key spec measured through keyspec and through the raw
// crypto/ call it wraps, in the same run (issue 9: keyspec ≥ 0.8× raw).
type benchCase struct {
	spec, alg string
	rawSign   func(priv any, msg []byte) ([]byte, error)
	rawVerify func(priv any, msg, sig []byte) bool
}

var benchCases = []benchCase{
	{keyspec.RSA2048, keyspec.RSASSAPSSSHA256,
		func(priv any, msg []byte) ([]byte, error) {
			d := sha256.Sum256(msg)
			return rsa.SignPSS(rand.Reader, priv.(*rsa.PrivateKey), crypto.SHA256, d[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		},
		func(priv any, msg, sig []byte) bool {
			d := sha256.Sum256(msg)
			return rsa.VerifyPSS(&priv.(*rsa.PrivateKey).PublicKey, crypto.SHA256, d[:], sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}) == nil
		}},
	{keyspec.ECCNISTP256, keyspec.ECDSASHA256,
		func(priv any, msg []byte) ([]byte, error) {
			d := sha256.Sum256(msg)
			return ecdsa.SignASN1(rand.Reader, priv.(*ecdsa.PrivateKey), d[:])
		},
		func(priv any, msg, sig []byte) bool {
			d := sha256.Sum256(msg)
			return ecdsa.VerifyASN1(&priv.(*ecdsa.PrivateKey).PublicKey, d[:], sig)
		}},
	{keyspec.ECCEd25519, keyspec.Ed25519SHA512,
		func(priv any, msg []byte) ([]byte, error) { return ed25519.Sign(priv.(ed25519.PrivateKey), msg), nil },
		func(priv any, msg, sig []byte) bool {
			return ed25519.Verify(priv.(ed25519.PrivateKey).Public().(ed25519.PublicKey), msg, sig)
		}},
}

func benchSetup(b *testing.B, c benchCase) (*keyspec.Material, any, []byte) {
	b.Helper()
	m := generate(b, c.spec)
	der, err := m.Bytes()
	if err != nil {
		b.Fatal(err)
	}
	priv, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		b.Fatal(err)
	}
	return m, priv, make([]byte, 1024)
}

func BenchmarkSign(b *testing.B) {
	for _, c := range benchCases {
		m, priv, msg := benchSetup(b, c)
		b.Run(c.spec+"/keyspec", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := m.Sign(rand.Reader, c.alg, keyspec.MessageRaw, msg); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(c.spec+"/raw", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.rawSign(priv, msg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkVerify(b *testing.B) {
	for _, c := range benchCases {
		m, priv, msg := benchSetup(b, c)
		sig, err := m.Sign(rand.Reader, c.alg, keyspec.MessageRaw, msg)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.spec+"/keyspec", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := m.Verify(c.alg, keyspec.MessageRaw, msg, sig); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(c.spec+"/raw", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if !c.rawVerify(priv, msg, sig) {
					b.Fatal("raw verify failed")
				}
			}
		})
	}
}
