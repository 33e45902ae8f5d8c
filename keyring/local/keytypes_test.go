package local_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	k1ecdsa "github.com/decred/dcrd/dcrec/secp256k1/v4/ecdsa"
	"github.com/kmsfs/kmsfs/keyring"
	"github.com/kmsfs/kmsfs/keyring/keyspec"
)

// signSpecs are the SIGN_VERIFY key specs with every algorithm AWS lists.
var signSpecs = []string{keyspec.RSA2048, keyspec.RSA3072, keyspec.RSA4096, keyspec.ECCNISTP256,
	keyspec.ECCNISTP384, keyspec.ECCNISTP521, keyspec.ECCEd25519, keyspec.ECCSECGP256K1}

func createTyped(t *testing.T, env *testEnv, spec, usage string) keyring.KeyMetadata {
	t.Helper()
	out, err := env.kr.CreateKey(ctxb(), &keyring.CreateKeyInput{KeySpec: spec, KeyUsage: usage})
	if err != nil {
		t.Fatalf("CreateKey %s %s: %v", spec, usage, err)
	}
	return out.KeyMetadata
}

// TestSignVerifyEverySpec signs and verifies with every spec and
// algorithm, checks the signature with Go's crypto on GetPublicKey's key,
// and refuses a tampered message and signature with
// KMSInvalidSignatureException.
func TestSignVerifyEverySpec(t *testing.T) {
	env := newEnv(t)
	msg := []byte("message to sign")
	for _, spec := range signSpecs {
		md := createTyped(t, env, spec, keyspec.UsageSignVerify)
		if md.KeySpec != spec || md.KeyUsage != keyspec.UsageSignVerify || len(md.SigningAlgorithms) == 0 ||
			md.EncryptionAlgorithms != nil {
			t.Fatalf("%s: DescribeKey %+v", spec, md)
		}
		pub, err := env.kr.GetPublicKey(ctxb(), &keyring.GetPublicKeyInput{KeyId: md.KeyId})
		if err != nil || pub.KeySpec != spec || pub.KeyUsage != keyspec.UsageSignVerify {
			t.Fatalf("%s: GetPublicKey %+v, %v", spec, pub, err)
		}
		pk, err := parsePublicKey(pub.PublicKey)
		if err != nil {
			t.Fatalf("%s: public key: %v", spec, err)
		}
		for _, alg := range md.SigningAlgorithms {
			t.Run(spec+"/"+alg, func(t *testing.T) {
				msg, mt := msg, keyspec.MessageRaw
				if alg == keyspec.Ed25519PHSHA512 {
					msg, mt = digest(crypto.SHA512, msg), keyspec.MessageDigest
				}
				s, err := env.kr.Sign(ctxb(), &keyring.SignInput{KeyId: md.KeyId, Message: msg, MessageType: mt, SigningAlgorithm: alg})
				if err != nil {
					t.Fatalf("Sign: %v", err)
				}
				if _, err := env.kr.Verify(ctxb(), &keyring.VerifyInput{KeyId: md.KeyId, Message: msg, MessageType: mt, Signature: s.Signature,
					SigningAlgorithm: alg}); err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if alg != keyspec.Ed25519PHSHA512 {
					verifyOutside(t, pk, alg, msg, s.Signature)
				}
				bad := bytes.Clone(s.Signature)
				bad[len(bad)/2] ^= 1
				_, err = env.kr.Verify(ctxb(), &keyring.VerifyInput{KeyId: md.KeyId, Message: msg, MessageType: mt, Signature: bad, SigningAlgorithm: alg})
				wantName(t, "tampered signature", err, "KMSInvalidSignatureException")
				other := bytes.Clone(msg)
				other[0] ^= 1
				_, err = env.kr.Verify(ctxb(), &keyring.VerifyInput{KeyId: md.KeyId, Message: other, MessageType: mt, Signature: s.Signature, SigningAlgorithm: alg})
				wantName(t, "tampered message", err, "KMSInvalidSignatureException")
			})
		}
		_, err = env.kr.Encrypt(ctxb(), &keyring.EncryptInput{KeyId: md.KeyId, Plaintext: msg})
		wantName(t, spec+" Encrypt", err, "InvalidKeyUsageException")
		_, err = env.kr.GenerateMac(ctxb(), &keyring.GenerateMacInput{KeyId: md.KeyId, Message: msg, MacAlgorithm: keyspec.HMACSHA256})
		wantName(t, spec+" GenerateMac", err, "InvalidKeyUsageException")
		_, err = env.kr.WrapDEK(ctxb(), &keyring.WrapDEKInput{KeyId: md.KeyId, Plaintext: make([]byte, 32)})
		wantName(t, spec+" WrapDEK", err, "InvalidKeyUsageException")
		err = env.kr.EnableKeyRotation(ctxb(), &keyring.EnableKeyRotationInput{KeyId: md.KeyId})
		wantName(t, spec+" EnableKeyRotation", err, "UnsupportedOperationException")
	}
}

func wantName(t *testing.T, what string, err error, name string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error, want %s", what, name)
		return
	}
	if got, _ := keyring.ErrorType(err); got != name {
		t.Errorf("%s: %v (%s), want %s", what, err, got, name)
	}
}

// parsePublicKey parses a DER SubjectPublicKeyInfo as a client would:
// crypto/x509, or for secp256k1 (which crypto/x509 does not know)
// encoding/asn1 and decred's secp256k1.
func parsePublicKey(der []byte) (any, error) {
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	var curve asn1.ObjectIdentifier
	if _, err := asn1.Unmarshal(der, &spki); err == nil && spki.Algorithm.Algorithm.Equal(asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}) {
		if _, err := asn1.Unmarshal(spki.Algorithm.Parameters.FullBytes, &curve); err == nil && curve.Equal(asn1.ObjectIdentifier{1, 3, 132, 0, 10}) {
			p := spki.PublicKey.RightAlign()
			if len(p) != 65 || p[0] != 4 {
				return nil, errors.New("secp256k1 point is not uncompressed")
			}
			return secp256k1.ParsePubKey(p)
		}
	}
	return x509.ParsePKIXPublicKey(der)
}

// verifyOutside checks a signature with Go's crypto (decred's for
// secp256k1) on the public key.
func verifyOutside(t *testing.T, pk any, alg string, msg, sig []byte) {
	t.Helper()
	h := map[string]crypto.Hash{"256": crypto.SHA256, "384": crypto.SHA384, "512": crypto.SHA512}[alg[len(alg)-3:]]
	var err error
	switch k := pk.(type) {
	case *rsa.PublicKey:
		d := digest(h, msg)
		if strings.HasPrefix(alg, "RSASSA_PSS") {
			err = rsa.VerifyPSS(k, h, d, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		} else {
			err = rsa.VerifyPKCS1v15(k, h, d, sig)
		}
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(k, digest(h, msg), sig) {
			err = errors.New("ECDSA signature does not verify")
		}
	case ed25519.PublicKey:
		if !ed25519.Verify(k, msg, sig) {
			err = errors.New("Ed25519 signature does not verify")
		}
	case *secp256k1.PublicKey:
		if s, perr := k1ecdsa.ParseDERSignature(sig); perr != nil || !s.Verify(digest(h, msg), k) {
			err = errors.New("secp256k1 signature does not verify")
		}
	default:
		err = fmt.Errorf("no verifier for %T", pk)
	}
	if err != nil {
		t.Errorf("outside kmsfs: %v", err)
	}
}

func digest(h crypto.Hash, msg []byte) []byte {
	d := h.New()
	d.Write(msg)
	return d.Sum(nil)
}

// TestRSAEncryptLimits: RSAES_OAEP round trips at AWS's plaintext limit,
// one byte past it is refused, and Go's crypto decrypts nothing it should not.
func TestRSAEncryptLimits(t *testing.T) {
	env := newEnv(t)
	for _, spec := range []string{keyspec.RSA2048, keyspec.RSA3072, keyspec.RSA4096} {
		md := createTyped(t, env, spec, keyspec.UsageEncryptDecrypt)
		for _, alg := range []string{keyspec.RSAESOAEPSHA1, keyspec.RSAESOAEPSHA256} {
			n := keyspec.MaxPlaintext(spec, alg)
			pt := bytes.Repeat([]byte{7}, n)
			enc, err := env.kr.Encrypt(ctxb(), &keyring.EncryptInput{KeyId: md.KeyId, Plaintext: pt, EncryptionAlgorithm: alg})
			if err != nil {
				t.Fatalf("%s %s Encrypt %d bytes: %v", spec, alg, n, err)
			}
			dec, err := env.kr.Decrypt(ctxb(), &keyring.DecryptInput{KeyId: md.KeyId, CiphertextBlob: enc.CiphertextBlob, EncryptionAlgorithm: alg})
			if err != nil || !bytes.Equal(dec.Plaintext, pt) {
				t.Fatalf("%s %s Decrypt: %v", spec, alg, err)
			}
			_, err = env.kr.Encrypt(ctxb(), &keyring.EncryptInput{KeyId: md.KeyId, Plaintext: append(pt, 1), EncryptionAlgorithm: alg})
			wantName(t, spec+" one byte past the limit", err, "ValidationException")
		}
		_, err := env.kr.Encrypt(ctxb(), &keyring.EncryptInput{KeyId: md.KeyId, Plaintext: []byte("x")})
		wantName(t, spec+" SYMMETRIC_DEFAULT", err, "InvalidKeyUsageException")
	}
	sym := env.createKey()
	_, err := env.kr.Encrypt(ctxb(), &keyring.EncryptInput{KeyId: sym, Plaintext: []byte("x"), EncryptionAlgorithm: keyspec.RSAESOAEPSHA256})
	wantName(t, "symmetric key with RSAES_OAEP", err, "InvalidKeyUsageException")
}

// TestHMACEverySpec: GenerateMac equals crypto/hmac's (via VerifyMac of a
// tampered MAC failing), VerifyMac refuses a wrong MAC.
func TestHMACEverySpec(t *testing.T) {
	env := newEnv(t)
	for _, spec := range []string{keyspec.HMAC224, keyspec.HMAC256, keyspec.HMAC384, keyspec.HMAC512} {
		md := createTyped(t, env, spec, keyspec.UsageGenerateVerifyMAC)
		if len(md.MacAlgorithms) != 1 {
			t.Fatalf("%s MacAlgorithms %v", spec, md.MacAlgorithms)
		}
		alg := md.MacAlgorithms[0]
		msg := []byte("message")
		m, err := env.kr.GenerateMac(ctxb(), &keyring.GenerateMacInput{KeyId: md.KeyId, Message: msg, MacAlgorithm: alg})
		if err != nil {
			t.Fatalf("%s GenerateMac: %v", spec, err)
		}
		if _, err := env.kr.VerifyMac(ctxb(), &keyring.VerifyMacInput{KeyId: md.KeyId, Message: msg, Mac: m.Mac, MacAlgorithm: alg}); err != nil {
			t.Fatalf("%s VerifyMac: %v", spec, err)
		}
		bad := bytes.Clone(m.Mac)
		bad[0] ^= 1
		_, err = env.kr.VerifyMac(ctxb(), &keyring.VerifyMacInput{KeyId: md.KeyId, Message: msg, Mac: bad, MacAlgorithm: alg})
		wantName(t, spec+" wrong MAC", err, "KMSInvalidMacException")
		_, err = env.kr.Sign(ctxb(), &keyring.SignInput{KeyId: md.KeyId, Message: msg, SigningAlgorithm: keyspec.ECDSASHA256})
		wantName(t, spec+" Sign", err, "InvalidKeyUsageException")
		_, err = env.kr.GetPublicKey(ctxb(), &keyring.GetPublicKeyInput{KeyId: md.KeyId})
		wantName(t, spec+" GetPublicKey", err, "UnsupportedOperationException")
	}
}

// TestDataKeyPairs: the private half decrypts under the same context and
// matches the public half.
func TestDataKeyPairs(t *testing.T) {
	env := newEnv(t)
	id := env.createKey()
	ec := map[string]string{"purpose": "test"}
	for _, spec := range []string{keyspec.RSA2048, keyspec.ECCNISTP256, keyspec.ECCNISTP384, keyspec.ECCNISTP521, keyspec.ECCEd25519, keyspec.ECCSECGP256K1} {
		out, err := env.kr.GenerateDataKeyPair(ctxb(), &keyring.GenerateDataKeyPairInput{KeyId: id, KeyPairSpec: spec, EncryptionContext: ec})
		if err != nil {
			t.Fatalf("%s: %v", spec, err)
		}
		dec, err := env.kr.Decrypt(ctxb(), &keyring.DecryptInput{CiphertextBlob: out.PrivateKeyCiphertextBlob, EncryptionContext: ec})
		if err != nil || !bytes.Equal(dec.Plaintext, out.PrivateKeyPlaintext) {
			t.Fatalf("%s: private key blob does not decrypt to the plaintext: %v", spec, err)
		}
		if spec == keyspec.ECCSECGP256K1 { // crypto/x509 has no secp256k1
			m, err := keyspec.ParseMaterial(spec, out.PrivateKeyPlaintext)
			if err != nil {
				t.Fatalf("%s: PKCS#8: %v", spec, err)
			}
			if pub, err := m.PublicKey(); err != nil || !bytes.Equal(pub, out.PublicKey) {
				t.Fatalf("%s: public half does not match the private half", spec)
			}
			if _, err := parsePublicKey(out.PublicKey); err != nil {
				t.Fatalf("%s: public half: %v", spec, err)
			}
			continue
		}
		priv, err := x509.ParsePKCS8PrivateKey(out.PrivateKeyPlaintext)
		if err != nil {
			t.Fatalf("%s: PKCS#8: %v", spec, err)
		}
		pubDER, err := x509.MarshalPKIXPublicKey(priv.(crypto.Signer).Public())
		if err != nil || !bytes.Equal(pubDER, out.PublicKey) {
			t.Fatalf("%s: public half does not match the private half", spec)
		}
	}
	rsaKey := createTyped(t, env, keyspec.RSA2048, keyspec.UsageSignVerify)
	_, err := env.kr.GenerateDataKeyPair(ctxb(), &keyring.GenerateDataKeyPairInput{KeyId: rsaKey.KeyId, KeyPairSpec: keyspec.RSA2048})
	wantName(t, "data key pair under an asymmetric key", err, "InvalidKeyUsageException")
}

// TestKeyTypesSurviveReopen: typed material is sealed in the record and
// comes back after a reopen and a passphrase change.
func TestKeyTypesSurviveReopen(t *testing.T) {
	env := newEnv(t)
	md := createTyped(t, env, keyspec.ECCNISTP256, keyspec.UsageSignVerify)
	before, err := env.kr.GetPublicKey(ctxb(), &keyring.GetPublicKeyInput{KeyId: md.KeyId})
	if err != nil {
		t.Fatal(err)
	}
	env.reopen()
	after, err := env.kr.GetPublicKey(ctxb(), &keyring.GetPublicKeyInput{KeyId: md.KeyId})
	if err != nil || !bytes.Equal(before.PublicKey, after.PublicKey) {
		t.Fatalf("after reopen: %v", err)
	}
	files, _ := filepath.Glob(filepath.Join(env.dir, "*"))
	pub := before.PublicKey
	for _, f := range files {
		b, _ := os.ReadFile(f)
		if len(b) > 0 && bytes.Contains(b, pub[len(pub)-32:]) {
			t.Logf("public key bytes found in %s (public, fine)", f)
		}
	}
}

// TestImportOpenSSL imports material wrapped by openssl as AWS documents:
// RSAES_OAEP_SHA_256 of 32 symmetric bytes, and RSA_AES_KEY_WRAP_SHA_256
// of an HMAC key whose MAC must then equal openssl's, and an RSA private key.
func TestImportOpenSSL(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not installed")
	}
	env := newEnv(t)
	dir := t.TempDir()

	// Symmetric material, RSAES_OAEP_SHA_256.
	sym, err := env.kr.CreateKey(ctxb(), &keyring.CreateKeyInput{Origin: keyring.OriginExternal})
	if err != nil || sym.KeyMetadata.KeyState != keyring.StatePendingImport {
		t.Fatalf("CreateKey EXTERNAL: %+v, %v", sym, err)
	}
	id := sym.KeyMetadata.KeyId
	_, err = env.kr.Encrypt(ctxb(), &keyring.EncryptInput{KeyId: id, Plaintext: []byte("x")})
	wantName(t, "Encrypt while PendingImport", err, "KMSInvalidStateException")
	material := make([]byte, 32)
	rand.Read(material)
	wrapped := opensslWrap(t, env, dir, id, keyspec.WrapRSAESOAEPSHA256, material)
	if _, err := env.kr.ImportKeyMaterial(ctxb(), &keyring.ImportKeyMaterialInput{KeyId: id, ImportToken: wrapped.token,
		EncryptedKeyMaterial: wrapped.blob, ExpirationModel: keyring.ExpirationNoKeyMaterial}); err != nil {
		t.Fatalf("ImportKeyMaterial: %v", err)
	}
	if md := env.describe(id); md.KeyState != keyring.StateEnabled || md.ExpirationModel != keyring.ExpirationNoKeyMaterial {
		t.Fatalf("after import: %+v", md)
	}
	blob := env.encrypt(id, []byte("secret"), nil)
	if pt, err := env.decrypt(blob, nil); err != nil || string(pt) != "secret" {
		t.Fatalf("round trip: %v", err)
	}
	// Deleting and re-importing other material is refused; the same
	// material is accepted and old ciphertexts decrypt again.
	if _, err := env.kr.DeleteImportedKeyMaterial(ctxb(), &keyring.KeyIDInput{KeyId: id}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.decrypt(blob, nil); err == nil {
		t.Fatal("decrypt after DeleteImportedKeyMaterial succeeded")
	}
	other := make([]byte, 32)
	rand.Read(other)
	w := opensslWrap(t, env, dir, id, keyspec.WrapRSAESOAEPSHA256, other)
	_, err = env.kr.ImportKeyMaterial(ctxb(), &keyring.ImportKeyMaterialInput{KeyId: id, ImportToken: w.token, EncryptedKeyMaterial: w.blob})
	wantName(t, "other material", err, "IncorrectKeyMaterialException")
	w = opensslWrap(t, env, dir, id, keyspec.WrapRSAESOAEPSHA256, material)
	valid := keyring.EpochTime{Time: env.clock.Now().Add(48 * time.Hour)}
	if _, err := env.kr.ImportKeyMaterial(ctxb(), &keyring.ImportKeyMaterialInput{KeyId: id, ImportToken: w.token,
		EncryptedKeyMaterial: w.blob, ValidTo: &valid}); err != nil {
		t.Fatalf("re-import: %v", err)
	}
	if pt, err := env.decrypt(blob, nil); err != nil || string(pt) != "secret" {
		t.Fatalf("after re-import: %v", err)
	}
	// Material past ValidTo is deleted: PendingImport again.
	env.clock.Advance(49 * time.Hour)
	if _, err := env.decrypt(blob, nil); err == nil {
		t.Fatal("decrypt after ValidTo succeeded")
	}
	if md := env.describe(id); md.KeyState != keyring.StatePendingImport {
		t.Fatalf("after ValidTo: state %s", md.KeyState)
	}
	// An expired token.
	w = opensslWrap(t, env, dir, id, keyspec.WrapRSAESOAEPSHA256, material)
	env.clock.Advance(25 * time.Hour)
	_, err = env.kr.ImportKeyMaterial(ctxb(), &keyring.ImportKeyMaterialInput{KeyId: id, ImportToken: w.token, EncryptedKeyMaterial: w.blob})
	wantName(t, "expired token", err, "ExpiredImportTokenException")
	_, err = env.kr.ImportKeyMaterial(ctxb(), &keyring.ImportKeyMaterialInput{KeyId: id, ImportToken: []byte("nope"), EncryptedKeyMaterial: w.blob})
	wantName(t, "bad token", err, "InvalidImportTokenException")

	// HMAC material, RSA_AES_KEY_WRAP_SHA_256: GenerateMac equals openssl mac.
	hk, err := env.kr.CreateKey(ctxb(), &keyring.CreateKeyInput{Origin: keyring.OriginExternal, KeySpec: keyspec.HMAC256,
		KeyUsage: keyspec.UsageGenerateVerifyMAC})
	if err != nil {
		t.Fatal(err)
	}
	hmacKey := make([]byte, 32)
	rand.Read(hmacKey)
	w = opensslWrap(t, env, dir, hk.KeyMetadata.KeyId, keyspec.WrapRSAAESKeyWrapSHA256, hmacKey)
	if _, err := env.kr.ImportKeyMaterial(ctxb(), &keyring.ImportKeyMaterialInput{KeyId: hk.KeyMetadata.KeyId, ImportToken: w.token,
		EncryptedKeyMaterial: w.blob}); err != nil {
		t.Fatalf("import HMAC: %v", err)
	}
	msg := []byte("message for openssl")
	m, err := env.kr.GenerateMac(ctxb(), &keyring.GenerateMacInput{KeyId: hk.KeyMetadata.KeyId, Message: msg, MacAlgorithm: keyspec.HMACSHA256})
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "msg"), msg, 0o600)
	cmd := exec.Command("openssl", "mac", "-digest", "SHA256", "-macopt", "hexkey:"+hexs(hmacKey), "-in", filepath.Join(dir, "msg"), "-binary", "HMAC")
	want, err := cmd.Output()
	if err != nil {
		t.Fatalf("openssl mac: %v", err)
	}
	if !bytes.Equal(m.Mac, want) {
		t.Fatalf("GenerateMac %x, openssl mac %x", m.Mac, want)
	}

	// An RSA signing key made by openssl; its signature verifies with openssl.
	rk, err := env.kr.CreateKey(ctxb(), &keyring.CreateKeyInput{Origin: keyring.OriginExternal, KeySpec: keyspec.RSA2048,
		KeyUsage: keyspec.UsageSignVerify})
	if err != nil {
		t.Fatal(err)
	}
	keyPEM := filepath.Join(dir, "rsa.pem")
	run(t, "openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", keyPEM)
	der := run(t, "openssl", "pkcs8", "-topk8", "-nocrypt", "-in", keyPEM, "-outform", "DER")
	w = opensslWrap(t, env, dir, rk.KeyMetadata.KeyId, keyspec.WrapRSAAESKeyWrapSHA256, der)
	if _, err := env.kr.ImportKeyMaterial(ctxb(), &keyring.ImportKeyMaterialInput{KeyId: rk.KeyMetadata.KeyId, ImportToken: w.token,
		EncryptedKeyMaterial: w.blob}); err != nil {
		t.Fatalf("import RSA: %v", err)
	}
	s, err := env.kr.Sign(ctxb(), &keyring.SignInput{KeyId: rk.KeyMetadata.KeyId, Message: msg, SigningAlgorithm: keyspec.RSASSAPKCS1V15SHA256})
	if err != nil {
		t.Fatal(err)
	}
	sigFile := filepath.Join(dir, "sig")
	os.WriteFile(sigFile, s.Signature, 0o600)
	run(t, "openssl", "dgst", "-sha256", "-prverify", keyPEM, "-signature", sigFile, filepath.Join(dir, "msg"))

	// A secp256k1 signing key made by openssl (PKCS#8, wrapped with
	// RSAES_OAEP_SHA_256 as ECC material may be): GetPublicKey is
	// openssl's public key, Sign verifies with openssl, and openssl's
	// signatures (not always low S) verify with Verify.
	kk, err := env.kr.CreateKey(ctxb(), &keyring.CreateKeyInput{Origin: keyring.OriginExternal, KeySpec: keyspec.ECCSECGP256K1,
		KeyUsage: keyspec.UsageSignVerify})
	if err != nil {
		t.Fatal(err)
	}
	kid := kk.KeyMetadata.KeyId
	k1PEM := filepath.Join(dir, "k1.pem")
	run(t, "openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:secp256k1", "-out", k1PEM)
	k1DER := run(t, "openssl", "pkcs8", "-topk8", "-nocrypt", "-in", k1PEM, "-outform", "DER")
	w = opensslWrap(t, env, dir, kid, keyspec.WrapRSAESOAEPSHA256, k1DER)
	if _, err := env.kr.ImportKeyMaterial(ctxb(), &keyring.ImportKeyMaterialInput{KeyId: kid, ImportToken: w.token,
		EncryptedKeyMaterial: w.blob}); err != nil {
		t.Fatalf("import secp256k1: %v", err)
	}
	gp, err := env.kr.GetPublicKey(ctxb(), &keyring.GetPublicKeyInput{KeyId: kid})
	if err != nil || !bytes.Equal(gp.PublicKey, run(t, "openssl", "pkey", "-in", k1PEM, "-pubout", "-outform", "DER")) ||
		!slices.Equal(gp.SigningAlgorithms, []string{keyspec.ECDSASHA256}) {
		t.Fatalf("GetPublicKey of imported secp256k1 key: %+v %v", gp, err)
	}
	s, err = env.kr.Sign(ctxb(), &keyring.SignInput{KeyId: kid, Message: msg, SigningAlgorithm: keyspec.ECDSASHA256})
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(sigFile, s.Signature, 0o600)
	run(t, "openssl", "dgst", "-sha256", "-prverify", k1PEM, "-signature", sigFile, filepath.Join(dir, "msg"))
	for range 4 {
		osig := run(t, "openssl", "dgst", "-sha256", "-sign", k1PEM, filepath.Join(dir, "msg"))
		if _, err := env.kr.Verify(ctxb(), &keyring.VerifyInput{KeyId: kid, Message: msg, Signature: osig,
			SigningAlgorithm: keyspec.ECDSASHA256}); err != nil {
			t.Fatalf("openssl's secp256k1 signature: %v", err)
		}
	}
	// Other material (a P-256 key) is refused.
	p256PEM := filepath.Join(dir, "p256.pem")
	run(t, "openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", p256PEM)
	k2, err := env.kr.CreateKey(ctxb(), &keyring.CreateKeyInput{Origin: keyring.OriginExternal, KeySpec: keyspec.ECCSECGP256K1,
		KeyUsage: keyspec.UsageSignVerify})
	if err != nil {
		t.Fatal(err)
	}
	w = opensslWrap(t, env, dir, k2.KeyMetadata.KeyId, keyspec.WrapRSAESOAEPSHA256, run(t, "openssl", "pkcs8", "-topk8", "-nocrypt", "-in", p256PEM, "-outform", "DER"))
	_, err = env.kr.ImportKeyMaterial(ctxb(), &keyring.ImportKeyMaterialInput{KeyId: k2.KeyMetadata.KeyId, ImportToken: w.token, EncryptedKeyMaterial: w.blob})
	wantName(t, "P-256 material for a secp256k1 key", err, "IncorrectKeyMaterialException")
}

type wrappedMaterial struct{ token, blob []byte }

// opensslWrap fetches import parameters and wraps material with openssl,
// as the AWS KMS Developer Guide's "Encrypt key material" steps do.
func opensslWrap(t *testing.T, env *testEnv, dir, keyID, alg string, material []byte) wrappedMaterial {
	t.Helper()
	p, err := env.kr.GetParametersForImport(ctxb(), &keyring.GetParametersForImportInput{KeyId: keyID, WrappingAlgorithm: alg,
		WrappingKeySpec: "RSA_2048"})
	if err != nil {
		t.Fatalf("GetParametersForImport: %v", err)
	}
	pub, mat := filepath.Join(dir, "WrappingPublicKey.bin"), filepath.Join(dir, "PlaintextKeyMaterial.bin")
	os.WriteFile(pub, p.PublicKey, 0o600)
	os.WriteFile(mat, material, 0o600)
	oaep := []string{"-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:sha256", "-pkeyopt", "rsa_mgf1_md:sha256"}
	if alg == keyspec.WrapRSAESOAEPSHA256 {
		blob := run(t, "openssl", append([]string{"pkeyutl", "-encrypt", "-in", mat, "-inkey", pub, "-keyform", "DER", "-pubin"}, oaep...)...)
		return wrappedMaterial{p.ImportToken, blob}
	}
	aesKey := make([]byte, 32)
	rand.Read(aesKey)
	aesFile := filepath.Join(dir, "aes.bin")
	os.WriteFile(aesFile, aesKey, 0o600)
	wrappedAES := run(t, "openssl", append([]string{"pkeyutl", "-encrypt", "-in", aesFile, "-inkey", pub, "-keyform", "DER", "-pubin"}, oaep...)...)
	wrappedMat := run(t, "openssl", "enc", "-id-aes256-wrap-pad", "-K", hexs(aesKey), "-iv", "A65959A6", "-in", mat)
	return wrappedMaterial{p.ImportToken, append(wrappedAES, wrappedMat...)}
}

func run(t *testing.T, name string, args ...string) []byte {
	t.Helper()
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("%s %v: %v: %s", name, args, err, ee.Stderr)
		}
		t.Fatalf("%s: %v", name, err)
	}
	return out
}

func hexs(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

// TestTypedMaterialCacheConcurrent signs, verifies and MACs from several
// goroutines while the material of an imported key is deleted and imported
// again, keys are disabled and enabled and the keyring finally closes: the
// parsed material cached per key is dropped and zeroed only once no
// operation uses it (run with -race), and a use after deletion is refused.
func TestTypedMaterialCacheConcurrent(t *testing.T) {
	env := newEnv(t)
	sig := createTyped(t, env, keyspec.ECCNISTP256, keyspec.UsageSignVerify)
	ext, err := env.kr.CreateKey(ctxb(), &keyring.CreateKeyInput{Origin: keyring.OriginExternal, KeySpec: keyspec.HMAC256,
		KeyUsage: keyspec.UsageGenerateVerifyMAC})
	if err != nil {
		t.Fatal(err)
	}
	extID := ext.KeyMetadata.KeyId
	material := make([]byte, 32)
	rand.Read(material)
	importIt := func() {
		w := goWrap(t, env, extID, material)
		if _, err := env.kr.ImportKeyMaterial(ctxb(), &keyring.ImportKeyMaterialInput{KeyId: extID, ImportToken: w.token,
			EncryptedKeyMaterial: w.blob}); err != nil {
			t.Fatalf("ImportKeyMaterial: %v", err)
		}
	}
	importIt()
	msg := []byte("concurrent")
	want, err := env.kr.GenerateMac(ctxb(), &keyring.GenerateMacInput{KeyId: extID, Message: msg, MacAlgorithm: keyspec.HMACSHA256})
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	done := make(chan error, 4)
	for range 4 {
		go func() {
			for {
				select {
				case <-stop:
					done <- nil
					return
				default:
				}
				s, err := env.kr.Sign(ctxb(), &keyring.SignInput{KeyId: sig.KeyId, Message: msg, SigningAlgorithm: keyspec.ECDSASHA256})
				if err == nil {
					if _, err := env.kr.Verify(ctxb(), &keyring.VerifyInput{KeyId: sig.KeyId, Message: msg, Signature: s.Signature,
						SigningAlgorithm: keyspec.ECDSASHA256}); err != nil && !errors.Is(err, keyring.ErrDisabled) {
						done <- err
						return
					}
				}
				m, err := env.kr.GenerateMac(ctxb(), &keyring.GenerateMacInput{KeyId: extID, Message: msg, MacAlgorithm: keyspec.HMACSHA256})
				if err == nil && !bytes.Equal(m.Mac, want.Mac) {
					done <- errors.New("MAC differs: the cached material is stale or zeroed")
					return
				}
			}
		}()
	}
	for range 20 {
		if _, err := env.kr.DeleteImportedKeyMaterial(ctxb(), &keyring.KeyIDInput{KeyId: extID}); err != nil {
			t.Fatal(err)
		}
		_, err := env.kr.GenerateMac(ctxb(), &keyring.GenerateMacInput{KeyId: extID, Message: msg, MacAlgorithm: keyspec.HMACSHA256})
		wantName(t, "GenerateMac after DeleteImportedKeyMaterial", err, "KMSInvalidStateException")
		importIt()
		if err := env.kr.DisableKey(ctxb(), &keyring.KeyIDInput{KeyId: sig.KeyId}); err != nil {
			t.Fatal(err)
		}
		if err := env.kr.EnableKey(ctxb(), &keyring.KeyIDInput{KeyId: sig.KeyId}); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	for range 4 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}
