package bench

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"path/filepath"
	"testing"

	"github.com/kmsfs/kmsfs/internal/testkeys"
	"github.com/kmsfs/kmsfs/keyring"
	"github.com/kmsfs/kmsfs/keyring/keyspec"
	"github.com/kmsfs/kmsfs/keyring/local"
)

// BenchmarkKeyTypes measures Sign and Verify per second for RSA_2048,
// ECC_NIST_P256 and ECC_NIST_EDWARDS25519 keys through the keyring
// (local.Keyring's Sign and Verify: authorization, the key's state, its
// parsed material, cached after the first call, the signature, the audit
// record, queued for the background writer), beside the same
// crypto/ calls on a key held in memory, measured in the same run. Each
// kmsfs sub-benchmark reports "x-raw", its rate over the raw library's
// (issue 9's target: at least 0.8).
//
//	go test -run '^$' -bench KeyTypes -benchtime 2s ./bench
func BenchmarkKeyTypes(b *testing.B) {
	kr, err := local.Open(filepath.Join(b.TempDir(), "keyring"), []byte("bench"), local.Options{Create: true, KDF: testkeys.KDF})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { kr.Close() })
	ctx := context.Background()
	msg := []byte("a message of the kind a signing tutorial signs, a few dozen bytes")
	for _, c := range []struct {
		spec, alg string
	}{
		{keyspec.RSA2048, keyspec.RSASSAPKCS1V15SHA256},
		{keyspec.ECCNISTP256, keyspec.ECDSASHA256},
		{keyspec.ECCEd25519, keyspec.Ed25519SHA512},
	} {
		md, err := kr.CreateKey(ctx, &keyring.CreateKeyInput{KeySpec: c.spec, KeyUsage: keyspec.UsageSignVerify})
		if err != nil {
			b.Fatal(err)
		}
		id := md.KeyMetadata.KeyId
		raw := newRawSigner(b, c.spec)
		kmsSig, err := kr.Sign(ctx, &keyring.SignInput{KeyId: id, Message: msg, SigningAlgorithm: c.alg})
		if err != nil {
			b.Fatal(err)
		}
		rawSig := raw.sign(msg)
		if !raw.verify(msg, rawSig) {
			b.Fatal("raw signature does not verify")
		}

		var rawNs float64
		b.Run(c.spec+"/Sign/raw", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				raw.sign(msg)
			}
			rawNs = perOp(b)
		})
		b.Run(c.spec+"/Sign/kmsfs", func(b *testing.B) {
			b.ReportAllocs()
			in := &keyring.SignInput{KeyId: id, Message: msg, SigningAlgorithm: c.alg}
			for b.Loop() {
				if _, err := kr.Sign(ctx, in); err != nil {
					b.Fatal(err)
				}
			}
			reportRatio(b, rawNs)
		})
		b.Run(c.spec+"/Verify/raw", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if !raw.verify(msg, rawSig) {
					b.Fatal("invalid")
				}
			}
			rawNs = perOp(b)
		})
		b.Run(c.spec+"/Verify/kmsfs", func(b *testing.B) {
			b.ReportAllocs()
			in := &keyring.VerifyInput{KeyId: id, Message: msg, Signature: kmsSig.Signature, SigningAlgorithm: c.alg}
			for b.Loop() {
				if _, err := kr.Verify(ctx, in); err != nil {
					b.Fatal(err)
				}
			}
			reportRatio(b, rawNs)
		})
	}
}

func perOp(b *testing.B) float64 {
	ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	b.ReportMetric(1e9/ns, "ops/s")
	return ns
}

// reportRatio reports ops/s and the rate relative to the raw library's
// (rawNs per operation, from the raw sub-benchmark just before).
func reportRatio(b *testing.B, rawNs float64) {
	ns := perOp(b)
	if rawNs > 0 {
		b.ReportMetric(rawNs/ns, "x-raw")
	}
}

// rawSigner is the same signature with crypto/ alone: the key in memory,
// the message hashed as the keyring hashes a RAW message.
type rawSigner struct {
	sign   func(msg []byte) []byte
	verify func(msg, sig []byte) bool
}

func newRawSigner(b *testing.B, spec string) rawSigner {
	b.Helper()
	must := func(err error) {
		if err != nil {
			b.Fatal(err)
		}
	}
	switch spec {
	case keyspec.RSA2048:
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		must(err)
		return rawSigner{
			sign: func(msg []byte) []byte {
				h := sha256.Sum256(msg)
				s, err := rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, h[:])
				must(err)
				return s
			},
			verify: func(msg, sig []byte) bool {
				h := sha256.Sum256(msg)
				return rsa.VerifyPKCS1v15(&k.PublicKey, crypto.SHA256, h[:], sig) == nil
			},
		}
	case keyspec.ECCNISTP256:
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		must(err)
		return rawSigner{
			sign: func(msg []byte) []byte {
				h := sha256.Sum256(msg)
				s, err := ecdsa.SignASN1(rand.Reader, k, h[:])
				must(err)
				return s
			},
			verify: func(msg, sig []byte) bool {
				h := sha256.Sum256(msg)
				return ecdsa.VerifyASN1(&k.PublicKey, h[:], sig)
			},
		}
	case keyspec.ECCEd25519:
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		must(err)
		return rawSigner{
			sign:   func(msg []byte) []byte { return ed25519.Sign(priv, msg) },
			verify: func(msg, sig []byte) bool { return ed25519.Verify(pub, msg, sig) },
		}
	}
	b.Fatalf("no raw signer for %s", spec)
	return rawSigner{}
}
