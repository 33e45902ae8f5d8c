package keyspec_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha512"
	"crypto/x509"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	"github.com/kmsfs/kmsfs/keyring"
	"github.com/kmsfs/kmsfs/keyring/keyspec"
)

// generate returns fresh material of spec or fails the test.
func generate(t testing.TB, spec string) *keyspec.Material {
	t.Helper()
	m, err := keyspec.Generate(spec, rand.Reader)
	if err != nil {
		t.Fatalf("Generate(%s): %v", spec, err)
	}
	return m
}

func publicKey(t testing.TB, m *keyspec.Material) (der []byte, pub any) {
	t.Helper()
	der, err := m.PublicKey()
	if err != nil {
		t.Fatalf("PublicKey: %v", err)
	}
	if m.Spec() == keyspec.ECCSECGP256K1 {
		return der, parseK1SPKI(t, der) // crypto/x509 has no secp256k1
	}
	pub, err = x509.ParsePKIXPublicKey(der)
	if err != nil {
		t.Fatalf("ParsePKIXPublicKey: %v", err)
	}
	return der, pub
}

var hashes = map[string]crypto.Hash{
	"SHA_256": crypto.SHA256, "SHA_384": crypto.SHA384, "SHA_512": crypto.SHA512,
}

func hashFor(alg string) crypto.Hash {
	for suffix, h := range hashes {
		if strings.HasSuffix(alg, suffix) {
			return h
		}
	}
	panic("no hash for " + alg)
}

// verifyOutside checks sig with Go's crypto on the SPKI, as a client of
// AWS KMS would, given the message digest (or the message for Ed25519).
func verifyOutside(pub any, alg string, digest, sig []byte) bool {
	h := hashFor(alg)
	switch p := pub.(type) {
	case *rsa.PublicKey:
		if strings.HasPrefix(alg, "RSASSA_PSS") {
			return rsa.VerifyPSS(p, h, digest, sig, &rsa.PSSOptions{SaltLength: h.Size()}) == nil
		}
		return rsa.VerifyPKCS1v15(p, h, digest, sig) == nil
	case *ecdsa.PublicKey:
		return ecdsa.VerifyASN1(p, digest, sig)
	case *secp256k1.PublicKey:
		return verifyDecred(p, digest, sig)
	case ed25519.PublicKey:
		if alg == keyspec.Ed25519PHSHA512 {
			return ed25519.VerifyWithOptions(p, digest, sig, &ed25519.Options{Hash: crypto.SHA512}) == nil
		}
		return ed25519.Verify(p, digest, sig)
	}
	return false
}

var signingSpecs = []string{
	keyspec.RSA2048, keyspec.RSA3072, keyspec.RSA4096,
	keyspec.ECCNISTP256, keyspec.ECCNISTP384, keyspec.ECCNISTP521, keyspec.ECCEd25519,
	keyspec.ECCSECGP256K1,
}

func TestSignVerify(t *testing.T) {
	msg := []byte("some important stuff")
	for _, spec := range signingSpecs {
		m := generate(t, spec)
		der, pub := publicKey(t, m)
		for _, alg := range keyspec.AlgorithmsFor(spec, keyspec.UsageSignVerify).SigningAlgorithms {
			for _, mt := range []string{keyspec.MessageRaw, keyspec.MessageDigest} {
				if (alg == keyspec.Ed25519SHA512 && mt == keyspec.MessageDigest) || (alg == keyspec.Ed25519PHSHA512 && mt == keyspec.MessageRaw) {
					continue // refused: TestSignMessageRules
				}
				t.Run(spec+"/"+alg+"/"+mt, func(t *testing.T) {
					testSignVerify(t, m, der, pub, alg, mt, msg)
				})
			}
		}
	}
}

func testSignVerify(t *testing.T, m *keyspec.Material, der []byte, pub any, alg, mt string, msg []byte) {
	h := hashFor(alg)
	hh := h.New()
	hh.Write(msg)
	digest := hh.Sum(nil)
	in, signed := msg, digest // what Sign gets; what the primitive signs
	switch {
	case mt == keyspec.MessageDigest && alg == keyspec.Ed25519PHSHA512:
		in = digest
		d := sha512.Sum512(digest) // KMS prehashes the digest again
		signed = d[:]
	case mt == keyspec.MessageDigest:
		in = digest
	case alg == keyspec.Ed25519SHA512:
		signed = msg
	}
	sig, err := m.Sign(rand.Reader, alg, mt, in)
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	if err := m.Verify(alg, mt, in, sig); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if !verifyOutside(pub, alg, signed, sig) {
		t.Fatal("Go's crypto does not verify the signature on the SPKI")
	}
	if mt == keyspec.MessageRaw {
		opensslVerify(t, der, alg, msg, digest, sig)
	}
	bad := append([]byte(nil), in...)
	bad[0] ^= 1
	if err := m.Verify(alg, mt, bad, sig); !errors.Is(err, keyspec.ErrInvalidSignature) {
		t.Errorf("tampered message: %v, want ErrInvalidSignature", err)
	}
	for _, i := range []int{0, len(sig) / 2, len(sig) - 1} {
		bad := append([]byte(nil), sig...)
		bad[i] ^= 0x80
		if err := m.Verify(alg, mt, in, bad); !errors.Is(err, keyspec.ErrInvalidSignature) {
			t.Errorf("signature byte %d flipped: %v, want ErrInvalidSignature", i, err)
		}
	}
	if err := m.Verify(alg, mt, in, sig[:len(sig)-1]); !errors.Is(err, keyspec.ErrInvalidSignature) {
		t.Errorf("truncated signature: %v, want ErrInvalidSignature", err)
	}
	if mt == keyspec.MessageDigest {
		for _, n := range []int{h.Size() - 1, h.Size() + 1} {
			if _, err := m.Sign(rand.Reader, alg, mt, make([]byte, n)); !errors.Is(err, keyring.ErrValidation) {
				t.Errorf("digest of %d bytes: %v, want ErrValidation", n, err)
			}
		}
	}
}

// opensslVerify checks sig with `openssl pkeyutl -verify` for RSA PSS, RSA
// PKCS #1 v1.5, ECDSA_SHA_256 (P-256, secp256k1) and Ed25519 (Ed25519ph
// needs OpenSSL 3.2).
func opensslVerify(t *testing.T, der []byte, alg string, msg, digest, sig []byte) {
	t.Helper()
	var opts []string
	in := digest
	switch {
	case strings.HasPrefix(alg, "RSASSA_PSS"):
		opts = []string{"-pkeyopt", "rsa_padding_mode:pss", "-pkeyopt", "rsa_pss_saltlen:digest", "-pkeyopt", "digest:" + opensslDigest(alg)}
	case strings.HasPrefix(alg, "RSASSA_PKCS1"):
		opts = []string{"-pkeyopt", "rsa_padding_mode:pkcs1", "-pkeyopt", "digest:" + opensslDigest(alg)}
	case alg == keyspec.ECDSASHA256:
		opts = []string{"-pkeyopt", "digest:sha256"}
	case alg == keyspec.Ed25519SHA512:
		opts, in = []string{"-rawin"}, msg
	default:
		return
	}
	openssl := lookOpenSSL(t)
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	args := append([]string{"pkeyutl", "-verify", "-pubin", "-keyform", "DER", "-inkey", write("pub.der", der),
		"-in", write("in", in), "-sigfile", write("sig", sig)}, opts...)
	out, err := exec.Command(openssl, args...).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Signature Verified Successfully") {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	// And openssl refuses a tampered signature.
	bad := append([]byte(nil), sig...)
	bad[len(bad)/2] ^= 1
	write("sig", bad)
	if out, err := exec.Command(openssl, args...).CombinedOutput(); err == nil {
		t.Fatalf("openssl verified a tampered signature:\n%s", out)
	}
}

func opensslDigest(alg string) string {
	return strings.ToLower(strings.ReplaceAll(alg[strings.LastIndex(alg, "SHA_"):], "_", ""))
}

func lookOpenSSL(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not installed")
	}
	return p
}

func TestSignMessageRules(t *testing.T) {
	rsaKey := generate(t, keyspec.RSA2048)
	p256 := generate(t, keyspec.ECCNISTP256)
	ed := generate(t, keyspec.ECCEd25519)
	hmacKey := generate(t, keyspec.HMAC256)
	d32 := make([]byte, 32)
	d64 := make([]byte, 64)
	tests := []struct {
		name string
		m    *keyspec.Material
		alg  string
		mt   string
		msg  []byte
		want error
	}{
		{"raw 4096 bytes", rsaKey, keyspec.RSASSAPSSSHA256, "RAW", make([]byte, 4096), nil},
		{"default is RAW", p256, keyspec.ECDSASHA256, "", []byte("x"), nil},
		{"raw 4097 bytes", rsaKey, keyspec.RSASSAPSSSHA256, "RAW", make([]byte, 4097), keyring.ErrValidation},
		{"empty message", p256, keyspec.ECDSASHA256, "RAW", nil, keyring.ErrValidation},
		{"unknown message type", p256, keyspec.ECDSASHA256, "EXTERNAL_MU", d32, keyring.ErrValidation},
		{"ECDSA_SHA_384 on P-256", p256, keyspec.ECDSASHA384, "RAW", d32, keyspec.ErrInvalidKeyUsage},
		{"ECDSA on RSA", rsaKey, keyspec.ECDSASHA256, "RAW", d32, keyspec.ErrInvalidKeyUsage},
		{"PSS on P-256", p256, keyspec.RSASSAPSSSHA256, "RAW", d32, keyspec.ErrInvalidKeyUsage},
		{"unknown algorithm", p256, "SM2DSA", "RAW", d32, keyspec.ErrInvalidKeyUsage},
		{"ED25519_SHA_512 DIGEST", ed, keyspec.Ed25519SHA512, "DIGEST", d64, keyring.ErrValidation},
		{"ED25519_PH_SHA_512 RAW", ed, keyspec.Ed25519PHSHA512, "RAW", []byte("x"), keyring.ErrValidation},
		{"ED25519_PH_SHA_512 short digest", ed, keyspec.Ed25519PHSHA512, "DIGEST", d32, keyring.ErrValidation},
		{"sign with HMAC key", hmacKey, keyspec.ECDSASHA256, "RAW", d32, keyspec.ErrInvalidKeyUsage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.m.Sign(rand.Reader, tt.alg, tt.mt, tt.msg)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Errorf("Sign: %v, want %v", err, tt.want)
			}
		})
	}
	sig, err := p256.Sign(rand.Reader, keyspec.ECDSASHA256, "RAW", []byte("m"))
	if err != nil {
		t.Fatal(err)
	}
	if err := p256.Verify(keyspec.ECDSASHA256, "RAW", []byte("m"), make([]byte, 6145)); !errors.Is(err, keyring.ErrValidation) {
		t.Errorf("6145-byte signature: %v", err)
	}
	// A digest signed as RAW is hashed twice and does not verify as DIGEST.
	if err := p256.Verify(keyspec.ECDSASHA256, "DIGEST", make([]byte, 32), sig); !errors.Is(err, keyspec.ErrInvalidSignature) {
		t.Errorf("wrong message type: %v", err)
	}
}
