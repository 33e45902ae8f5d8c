package keyspec_test

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	"github.com/decred/dcrd/dcrec/secp256k1/v4/ecdsa"
	"github.com/kmsfs/kmsfs/keyring"
	"github.com/kmsfs/kmsfs/keyring/keyspec"
)

var (
	oidECPublicKey = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	oidSecp256k1   = asn1.ObjectIdentifier{1, 3, 132, 0, 10}
)

// parseK1SPKIErr reads a secp256k1 SubjectPublicKeyInfo as a client of AWS
// KMS would, independently of keyspec: encoding/asn1 for the structure,
// decred for the point, which must be uncompressed as AWS returns it.
func parseK1SPKIErr(der []byte) (*secp256k1.PublicKey, error) {
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	rest, err := asn1.Unmarshal(der, &spki)
	if err != nil || len(rest) != 0 {
		return nil, errors.New("not a SubjectPublicKeyInfo")
	}
	var curve asn1.ObjectIdentifier
	if !spki.Algorithm.Algorithm.Equal(oidECPublicKey) {
		return nil, errors.New("not id-ecPublicKey")
	}
	if rest, err := asn1.Unmarshal(spki.Algorithm.Parameters.FullBytes, &curve); err != nil || len(rest) != 0 || !curve.Equal(oidSecp256k1) {
		return nil, errors.New("not secp256k1")
	}
	p := spki.PublicKey.RightAlign()
	if spki.PublicKey.BitLength != 8*65 || p[0] != 4 {
		return nil, errors.New("not an uncompressed point")
	}
	return secp256k1.ParsePubKey(p)
}

func parseK1SPKI(t testing.TB, der []byte) *secp256k1.PublicKey {
	t.Helper()
	pub, err := parseK1SPKIErr(der)
	if err != nil {
		t.Fatalf("secp256k1 SPKI: %v", err)
	}
	return pub
}

// verifyDecred checks a DER signature with decred's parser and verifier.
func verifyDecred(pub *secp256k1.PublicKey, digest, sig []byte) bool {
	s, err := ecdsa.ParseDERSignature(sig)
	return err == nil && s.Verify(digest, pub)
}

// ecdsaSig is the DER structure of an ECDSA signature (RFC 3279).
type ecdsaSig struct{ R, S *big.Int }

var k1N = secp256k1.Params().N

// TestSecp256k1Signatures: Sign returns deterministic low-S signatures;
// the high-S twin of a signature, as AWS KMS may return, verifies with
// Verify, decred and openssl; r or s out of [1, n-1] does not.
func TestSecp256k1Signatures(t *testing.T) {
	m := generate(t, keyspec.ECCSECGP256K1)
	der, _ := publicKey(t, m)
	pub := parseK1SPKI(t, der)
	msg := []byte("some important stuff")
	digest := sha256.Sum256(msg)
	sig, err := m.Sign(rand.Reader, keyspec.ECDSASHA256, keyspec.MessageRaw, msg)
	if err != nil {
		t.Fatal(err)
	}
	again, err := m.Sign(rand.Reader, keyspec.ECDSASHA256, keyspec.MessageDigest, digest[:])
	if err != nil || !bytes.Equal(sig, again) {
		t.Fatalf("RAW and DIGEST signatures of the same digest differ (RFC 6979): %v", err)
	}
	var rs ecdsaSig
	if rest, err := asn1.Unmarshal(sig, &rs); err != nil || len(rest) != 0 {
		t.Fatalf("signature is not DER SEQUENCE{r, s}: %v", err)
	}
	half := new(big.Int).Rsh(k1N, 1)
	if rs.S.Cmp(half) > 0 {
		t.Fatal("Sign returned a high-S signature")
	}
	high, err := asn1.Marshal(ecdsaSig{rs.R, new(big.Int).Sub(k1N, rs.S)})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Verify(keyspec.ECDSASHA256, keyspec.MessageRaw, msg, high); err != nil {
		t.Errorf("high-S signature: %v", err)
	}
	if !verifyDecred(pub, digest[:], high) {
		t.Error("decred does not verify the high-S signature")
	}
	opensslVerify(t, der, keyspec.ECDSASHA256, msg, digest[:], high)
	for name, bad := range map[string]ecdsaSig{
		"r = 0":     {big.NewInt(0), rs.S},
		"s = 0":     {rs.R, big.NewInt(0)},
		"s = n":     {rs.R, k1N},
		"r + n":     {new(big.Int).Add(rs.R, k1N), rs.S},
		"s negated": {rs.R, new(big.Int).Neg(rs.S)},
	} {
		b, err := asn1.Marshal(bad)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Verify(keyspec.ECDSASHA256, keyspec.MessageRaw, msg, b); !errors.Is(err, keyspec.ErrInvalidSignature) {
			t.Errorf("%s: %v, want ErrInvalidSignature", name, err)
		}
	}
	trailing := append(append([]byte(nil), sig...), 0)
	if err := m.Verify(keyspec.ECDSASHA256, keyspec.MessageRaw, msg, trailing); !errors.Is(err, keyspec.ErrInvalidSignature) {
		t.Errorf("trailing byte: %v, want ErrInvalidSignature", err)
	}
	other := generate(t, keyspec.ECCSECGP256K1)
	if err := other.Verify(keyspec.ECDSASHA256, keyspec.MessageRaw, msg, sig); !errors.Is(err, keyspec.ErrInvalidSignature) {
		t.Errorf("another key's signature: %v, want ErrInvalidSignature", err)
	}
	for _, alg := range []string{keyspec.ECDSASHA384, keyspec.ECDSASHA512, keyspec.Ed25519SHA512, keyspec.RSASSAPSSSHA256} {
		if _, err := m.Sign(rand.Reader, alg, keyspec.MessageRaw, msg); !errors.Is(err, keyspec.ErrInvalidKeyUsage) {
			t.Errorf("Sign with %s: %v, want ErrInvalidKeyUsage", alg, err)
		}
	}
	for _, n := range []int{20, 31, 33, 48, 64} {
		if _, err := m.Sign(rand.Reader, keyspec.ECDSASHA256, keyspec.MessageDigest, make([]byte, n)); !errors.Is(err, keyring.ErrValidation) {
			t.Errorf("digest of %d bytes: %v, want ErrValidation", n, err)
		}
	}
	if _, err := m.DeriveSharedSecret(keyspec.ECDH, der); !errors.Is(err, keyspec.ErrInvalidKeyUsage) {
		t.Errorf("ECDH with a secp256k1 key: %v, want ErrInvalidKeyUsage", err)
	}
}

// TestSecp256k1OpenSSL: a key openssl generates imports as PKCS#8 and
// serialises back to openssl's bytes; its public key is openssl's; openssl
// verifies its signatures (SPKI as PEM), and it verifies openssl's, which
// are randomised and not always low S.
func TestSecp256k1OpenSSL(t *testing.T) {
	openssl := lookOpenSSL(t)
	dir := t.TempDir()
	run := func(args ...string) []byte {
		t.Helper()
		out, err := exec.Command(openssl, args...).Output()
		if err != nil {
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, ee.Stderr)
			}
			t.Fatalf("openssl %s: %v", strings.Join(args, " "), err)
		}
		return out
	}
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	keyPEM := run("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:secp256k1")
	blk, _ := pem.Decode(keyPEM)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		t.Fatalf("openssl genpkey did not write PKCS#8 PEM:\n%s", keyPEM)
	}
	keyFile := write("key.pem", keyPEM)
	m, err := keyspec.ParseMaterial(keyspec.ECCSECGP256K1, blk.Bytes)
	if err != nil {
		t.Fatalf("ParseMaterial(openssl PKCS#8): %v", err)
	}
	if b, err := m.Bytes(); err != nil || !bytes.Equal(b, blk.Bytes) {
		t.Errorf("Bytes() differs from openssl's PKCS#8 (%v)", err)
	}
	der, err := m.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	if want := run("pkey", "-in", keyFile, "-pubout", "-outform", "DER"); !bytes.Equal(der, want) {
		t.Fatalf("PublicKey() = %x, openssl says %x", der, want)
	}
	pubFile := write("pub.pem", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	pub := parseK1SPKI(t, der)

	msg := []byte("signed by kmsfs, verified by openssl")
	digest := sha256.Sum256(msg)
	digestFile := write("digest", digest[:])
	sig, err := m.Sign(rand.Reader, keyspec.ECDSASHA256, keyspec.MessageRaw, msg)
	if err != nil {
		t.Fatal(err)
	}
	verifyArgs := []string{"pkeyutl", "-verify", "-pubin", "-inkey", pubFile, "-in", digestFile, "-pkeyopt", "digest:sha256"}
	if out := run(append(verifyArgs, "-sigfile", write("sig", sig))...); !strings.Contains(string(out), "Signature Verified Successfully") {
		t.Fatalf("openssl does not verify: %s", out)
	}
	if !verifyDecred(pub, digest[:], sig) {
		t.Fatal("decred does not verify on the parsed SPKI")
	}
	bad := append([]byte(nil), sig...)
	bad[len(bad)-1] ^= 1
	if out, err := exec.Command(openssl, append(verifyArgs, "-sigfile", write("bad", bad))...).CombinedOutput(); err == nil {
		t.Fatalf("openssl verified a tampered signature: %s", out)
	}

	// openssl's signatures: about half are high S.
	high := 0
	for i := range 16 {
		osig := run("pkeyutl", "-sign", "-inkey", keyFile, "-in", digestFile, "-pkeyopt", "digest:sha256")
		if err := m.Verify(keyspec.ECDSASHA256, keyspec.MessageDigest, digest[:], osig); err != nil {
			t.Fatalf("openssl signature %d: %v", i, err)
		}
		var rs ecdsaSig
		if _, err := asn1.Unmarshal(osig, &rs); err == nil && rs.S.Cmp(new(big.Int).Rsh(k1N, 1)) > 0 {
			high++
		}
	}
	t.Logf("%d of 16 openssl signatures were high S", high)

	// The SEC 1 form openssl writes with -outform DER is not PKCS#8; AWS
	// and ParseMaterial want PKCS#8.
	sec1 := run("pkey", "-in", keyFile, "-outform", "DER", "-traditional")
	if _, err := keyspec.ParseMaterial(keyspec.ECCSECGP256K1, sec1); !errors.Is(err, keyspec.ErrIncorrectKeyMaterial) {
		t.Errorf("SEC 1 ECPrivateKey: %v, want ErrIncorrectKeyMaterial", err)
	}

	// A data key pair's private half is PKCS#8 openssl reads.
	priv, pubDER, err := keyspec.GenerateDataKeyPair(keyspec.ECCSECGP256K1, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if got := run("pkey", "-inform", "DER", "-in", write("dkp.der", priv), "-pubout", "-outform", "DER"); !bytes.Equal(got, pubDER) {
		t.Fatal("openssl derives another public key from the data key pair's private key")
	}
}

func TestSecp256k1DataKeyPair(t *testing.T) {
	priv, pubDER, err := keyspec.GenerateDataKeyPair(keyspec.ECCSECGP256K1, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pub := parseK1SPKI(t, pubDER)
	m, err := keyspec.ParseMaterial(keyspec.ECCSECGP256K1, priv)
	if err != nil {
		t.Fatalf("private half: %v", err)
	}
	if got, _ := m.PublicKey(); !bytes.Equal(got, pubDER) {
		t.Fatal("ParseMaterial(private).PublicKey() differs from the public half")
	}
	d := sha256.Sum256([]byte("x"))
	sig, err := m.Sign(rand.Reader, keyspec.ECDSASHA256, keyspec.MessageDigest, d[:])
	if err != nil || !verifyDecred(pub, d[:], sig) {
		t.Fatalf("the public half does not verify the private half's signature (%v)", err)
	}
}

// k1ScalarAt is where the 32-byte scalar sits in the PKCS#8 Bytes writes.
const k1ScalarAt = 33

func TestSecp256k1ParseMaterial(t *testing.T) {
	good, err := generate(t, keyspec.ECCSECGP256K1).Bytes()
	if err != nil {
		t.Fatal(err)
	}
	if good[k1ScalarAt-2] != 0x04 || good[k1ScalarAt-1] != 32 {
		t.Fatalf("unexpected PKCS#8 layout %x", good)
	}
	other, _ := generate(t, keyspec.ECCSECGP256K1).Bytes()
	with := func(f func(b []byte)) []byte {
		b := append([]byte(nil), good...)
		f(b)
		return b
	}
	n := k1N.FillBytes(make([]byte, 32))
	tests := map[string][]byte{
		"zero scalar":        with(func(b []byte) { clear(b[k1ScalarAt : k1ScalarAt+32]) }),
		"scalar = n":         with(func(b []byte) { copy(b[k1ScalarAt:], n) }),
		"another public key": with(func(b []byte) { copy(b[len(b)-64:], other[len(other)-64:]) }),
		"another curve OID":  with(func(b []byte) { b[bytes.Index(b, []byte{0x2b, 0x81, 0x04, 0x00, 0x0a})+4] = 0x0b }),
		"PKCS#8 version 1":   with(func(b []byte) { b[5] = 1 }),
		"trailing byte":      append(append([]byte(nil), good...), 0),
		"empty":              nil,
	}
	for name, b := range tests {
		if _, err := keyspec.ParseMaterial(keyspec.ECCSECGP256K1, b); !errors.Is(err, keyspec.ErrIncorrectKeyMaterial) {
			t.Errorf("%s: %v, want ErrIncorrectKeyMaterial", name, err)
		}
	}
	// Optional fields: no public key, and the curve named again in
	// ECPrivateKey's parameters, read to the same key.
	m, _ := keyspec.ParseMaterial(keyspec.ECCSECGP256K1, good)
	for name, b := range map[string][]byte{"without public key": k1PKCS8(t, good[k1ScalarAt:k1ScalarAt+32], false, nil), "with parameters": k1PKCS8(t, good[k1ScalarAt:k1ScalarAt+32], true, good[len(good)-65:])} {
		got, err := keyspec.ParseMaterial(keyspec.ECCSECGP256K1, b)
		if err != nil || !got.Equal(m) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// k1PKCS8 builds a PKCS#8 secp256k1 key with encoding/asn1, optionally
// with ECPrivateKey parameters and a public key.
func k1PKCS8(t *testing.T, d []byte, params bool, pub []byte) []byte {
	type ecPrivateKey struct {
		Version    int
		PrivateKey []byte
		Params     asn1.ObjectIdentifier `asn1:"optional,explicit,tag:0"`
		PublicKey  asn1.BitString        `asn1:"optional,explicit,tag:1"`
	}
	ec := ecPrivateKey{Version: 1, PrivateKey: d, PublicKey: asn1.BitString{Bytes: pub, BitLength: 8 * len(pub)}}
	if params {
		ec.Params = oidSecp256k1
	}
	inner, err := asn1.Marshal(ec)
	if err != nil {
		t.Fatal(err)
	}
	curve, _ := asn1.Marshal(oidSecp256k1)
	b, err := asn1.Marshal(struct {
		Version    int
		Algorithm  pkix.AlgorithmIdentifier
		PrivateKey []byte
	}{0, pkix.AlgorithmIdentifier{Algorithm: oidECPublicKey, Parameters: asn1.RawValue{FullBytes: curve}}, inner})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// FuzzParseSecp256k1: no panic on any bytes; a key that parses serialises
// to PKCS#8 that parses to the same key and serialises identically, input
// already in that canonical form comes back byte for byte, and the public
// key is an SPKI a client parses.
func FuzzParseSecp256k1(f *testing.F) {
	good, err := generate(f, keyspec.ECCSECGP256K1).Bytes()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(k1PKCS8(nil, good[k1ScalarAt:k1ScalarAt+32], true, nil))
	f.Add(k1PKCS8(nil, good[k1ScalarAt:k1ScalarAt+32], false, nil))
	f.Add(good[:len(good)-10])
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := keyspec.ParseMaterial(keyspec.ECCSECGP256K1, b)
		if err != nil {
			if !errors.Is(err, keyspec.ErrIncorrectKeyMaterial) {
				t.Fatalf("error %v, want ErrIncorrectKeyMaterial", err)
			}
			return
		}
		out, err := m.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		again, err := keyspec.ParseMaterial(keyspec.ECCSECGP256K1, out)
		if err != nil || !again.Equal(m) {
			t.Fatalf("Bytes() does not parse to the same key: %v", err)
		}
		if out2, _ := again.Bytes(); !bytes.Equal(out2, out) {
			t.Fatal("Bytes() is not canonical")
		}
		// The optional fields change the length; the same length is the
		// canonical form itself.
		if len(out) == len(b) && !bytes.Equal(out, b) {
			t.Fatalf("%x re-serialises as %x", b, out)
		}
		der, err := m.PublicKey()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := parseK1SPKIErr(der); err != nil {
			t.Fatal(err)
		}
	})
}
