package integration

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	k1ecdsa "github.com/decred/dcrd/dcrec/secp256k1/v4/ecdsa"
)

// tutorialResult is one "result: " line of keytypes_boto3.py; byte
// fields are hex.
type tutorialResult struct {
	Kind      string `json:"kind"`
	Spec      string `json:"spec"`
	KeyID     string `json:"key_id"`
	Algorithm string `json:"algorithm"`
	PublicKey string `json:"public_key"`
	Message   string `json:"message"`
	Signature string `json:"signature"`
}

// TestKeyTypesTutorials runs the AWS KMS tutorials for asymmetric, HMAC,
// data key pair and imported keys with boto3 against `kmsfs serve`
// (keytypes_boto3.py), checks the signatures it got with Go's crypto on
// the SubjectPublicKeyInfo GetPublicKey returned and with `openssl
// pkeyutl -verify`, then signs, verifies and fetches a public key with the
// AWS CLI.
func TestKeyTypesTutorials(t *testing.T) {
	needTool(t, "python3")
	s := startServer(t)
	id, secret := s.accessKey("--name", "alice")
	env := append(os.Environ(), "AWS_ENDPOINT_URL="+s.endpoint, "AWS_ACCESS_KEY_ID="+id,
		"AWS_SECRET_ACCESS_KEY="+secret, "AWS_DEFAULT_REGION=us-east-1",
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_PAGER=")

	py := exec.Command("python3", "testdata/kms/keytypes_boto3.py")
	py.Env = env
	out, err := py.CombinedOutput()
	if err != nil {
		t.Fatalf("boto3 key types tutorial: %v\n%s\nserver log:\n%s", err, out, s.stderr)
	}
	if !strings.Contains(string(out), "\ndone\n") {
		t.Fatalf("the boto3 tutorial did not finish:\n%s", out)
	}
	var sigs []tutorialResult
	for _, l := range strings.Split(string(out), "\n") {
		if j, ok := strings.CutPrefix(l, "result: "); ok {
			var r tutorialResult
			if err := json.Unmarshal([]byte(j), &r); err != nil {
				t.Fatal(err)
			}
			if r.Kind == "signature" {
				sigs = append(sigs, r)
			}
		}
	}
	if len(sigs) != 2 {
		t.Fatalf("want the RSA_2048 and ECC_NIST_P256 signatures, got %d:\n%s", len(sigs), out)
	}
	dir := t.TempDir()
	for _, r := range sigs {
		pubDER, msg, sig := mustHex(t, r.PublicKey), mustHex(t, r.Message), mustHex(t, r.Signature)
		verifyWithGo(t, r.Spec, r.Algorithm, pubDER, msg, sig)
		verifyWithOpenSSL(t, dir, r.Spec, r.Algorithm, pubDER, msg, sig)
	}

	needTool(t, "aws")
	k1 := awsSecp256k1(t, env, s.endpoint, dir)
	verifyWithGo(t, k1.Spec, k1.Algorithm, mustHex(t, k1.PublicKey), mustHex(t, k1.Message), mustHex(t, k1.Signature))
	verifyWithOpenSSL(t, dir, k1.Spec, k1.Algorithm, mustHex(t, k1.PublicKey), mustHex(t, k1.Message), mustHex(t, k1.Signature))
	awsCLI(t, env, s.endpoint, dir, append(sigs, k1))
}

// awsSecp256k1 creates an ECC_SECG_P256K1 signing key with the AWS CLI,
// fetches its public key and signs a message with it, as the boto3 script
// does for the other specs.
func awsSecp256k1(t *testing.T, env []string, endpoint, dir string) tutorialResult {
	t.Helper()
	aws := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("aws", append([]string{"--endpoint-url", endpoint, "kms"}, args...)...)
		cmd.Env = env
		out, err := cmd.Output()
		if err != nil {
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				t.Fatalf("aws kms %s: %v\n%s", strings.Join(args, " "), err, ee.Stderr)
			}
			t.Fatalf("aws kms %s: %v", strings.Join(args, " "), err)
		}
		return strings.TrimSpace(string(out))
	}
	unb64 := func(s string) []byte {
		t.Helper()
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			t.Fatalf("aws printed %q: %v", s, err)
		}
		return b
	}
	const spec, alg = "ECC_SECG_P256K1", "ECDSA_SHA_256"
	id := aws("create-key", "--key-spec", spec, "--key-usage", "SIGN_VERIFY", "--output", "text", "--query", "KeyMetadata.KeyId")
	if got := aws("describe-key", "--key-id", id, "--output", "text", "--query", "KeyMetadata.SigningAlgorithms"); got != alg {
		t.Fatalf("%s: SigningAlgorithms %q, want [%s]", spec, got, alg)
	}
	pub := unb64(aws("get-public-key", "--key-id", id, "--output", "text", "--query", "PublicKey"))
	msg := []byte("signed on secp256k1")
	msgFile := filepath.Join(dir, "k1-message.txt")
	if err := os.WriteFile(msgFile, msg, 0o600); err != nil {
		t.Fatal(err)
	}
	sig := unb64(aws("sign", "--key-id", id, "--message", "fileb://"+msgFile, "--message-type", "RAW",
		"--signing-algorithm", alg, "--output", "text", "--query", "Signature"))
	return tutorialResult{Kind: "signature", Spec: spec, KeyID: id, Algorithm: alg, PublicKey: hex.EncodeToString(pub),
		Message: hex.EncodeToString(msg), Signature: hex.EncodeToString(sig)}
}

// parseSecp256k1SPKI reads a secp256k1 SubjectPublicKeyInfo, which
// crypto/x509 does not know, with encoding/asn1 and decred's secp256k1.
func parseSecp256k1SPKI(t *testing.T, der []byte) *secp256k1.PublicKey {
	t.Helper()
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	var curve asn1.ObjectIdentifier
	if rest, err := asn1.Unmarshal(der, &spki); err != nil || len(rest) != 0 ||
		!spki.Algorithm.Algorithm.Equal(asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}) {
		t.Fatalf("not an id-ecPublicKey SubjectPublicKeyInfo: %v", err)
	}
	if _, err := asn1.Unmarshal(spki.Algorithm.Parameters.FullBytes, &curve); err != nil || !curve.Equal(asn1.ObjectIdentifier{1, 3, 132, 0, 10}) {
		t.Fatalf("curve %v, want secp256k1 (%v)", curve, err)
	}
	p := spki.PublicKey.RightAlign()
	if len(p) != 65 || p[0] != 4 {
		t.Fatalf("point is not uncompressed: %x", p)
	}
	pk, err := secp256k1.ParsePubKey(p)
	if err != nil {
		t.Fatal(err)
	}
	return pk
}

// verifyWithGo checks a signature with crypto/x509 and crypto/rsa or
// crypto/ecdsa (decred's secp256k1 for ECC_SECG_P256K1), outside kmsfs.
func verifyWithGo(t *testing.T, spec, alg string, pubDER, msg, sig []byte) {
	t.Helper()
	if spec == "ECC_SECG_P256K1" { // decred's secp256k1: crypto/ecdsa has no such curve
		h := sha256.Sum256(msg)
		s, err := k1ecdsa.ParseDERSignature(sig)
		if alg != "ECDSA_SHA_256" || err != nil || !s.Verify(h[:], parseSecp256k1SPKI(t, pubDER)) {
			t.Fatalf("%s: decred refuses the %s signature (%v)", spec, alg, err)
		}
		return
	}
	pk, err := x509.ParsePKIXPublicKey(pubDER)
	if err != nil {
		t.Fatalf("%s: GetPublicKey's key is not a SubjectPublicKeyInfo: %v", spec, err)
	}
	h := sha256.Sum256(msg)
	switch pk := pk.(type) {
	case *rsa.PublicKey:
		if alg != "RSASSA_PSS_SHA_256" || pk.N.BitLen() != 2048 {
			t.Fatalf("%s: %s with a %d-bit key", spec, alg, pk.N.BitLen())
		}
		if err := rsa.VerifyPSS(pk, crypto.SHA256, h[:], sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}); err != nil {
			t.Fatalf("%s: crypto/rsa refuses the signature: %v", spec, err)
		}
	case *ecdsa.PublicKey:
		if alg != "ECDSA_SHA_256" || pk.Curve.Params().Name != "P-256" {
			t.Fatalf("%s: %s on %s", spec, alg, pk.Curve.Params().Name)
		}
		if !ecdsa.VerifyASN1(pk, h[:], sig) {
			t.Fatalf("%s: crypto/ecdsa refuses the signature", spec)
		}
	default:
		t.Fatalf("%s: public key of type %T", spec, pk)
	}
}

// verifyWithOpenSSL checks a signature with `openssl pkeyutl -verify` on
// the DER public key, as AWS's documentation shows.
func verifyWithOpenSSL(t *testing.T, dir, spec, alg string, pubDER, msg, sig []byte) {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Logf("openssl not installed: %s signature not checked with it", spec)
		return
	}
	pub, m, s := filepath.Join(dir, spec+".pub.der"), filepath.Join(dir, spec+".msg"), filepath.Join(dir, spec+".sig")
	for f, b := range map[string][]byte{pub: pubDER, m: msg, s: sig} {
		if err := os.WriteFile(f, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	args := []string{"pkeyutl", "-verify", "-pubin", "-inkey", pub, "-keyform", "DER", "-in", m, "-rawin",
		"-digest", "sha256", "-sigfile", s}
	if alg == "RSASSA_PSS_SHA_256" {
		args = append(args, "-pkeyopt", "rsa_padding_mode:pss", "-pkeyopt", "rsa_pss_saltlen:32", "-pkeyopt", "rsa_mgf1_md:sha256")
	}
	out, err := exec.Command("openssl", args...).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Signature Verified Successfully") {
		t.Fatalf("%s: openssl pkeyutl -verify: %v\n%s", spec, err, out)
	}
}

// awsCLI runs `aws kms get-public-key`, `sign` and `verify` with
// --endpoint-url on the keys the boto3 script made, and checks the CLI's
// signature outside kmsfs too.
func awsCLI(t *testing.T, env []string, endpoint, dir string, sigs []tutorialResult) {
	t.Helper()
	aws := func(args ...string) []byte {
		t.Helper()
		cmd := exec.Command("aws", append([]string{"--endpoint-url", endpoint, "kms"}, args...)...)
		cmd.Env = env
		var o, e bytes.Buffer
		cmd.Stdout, cmd.Stderr = &o, &e
		if err := cmd.Run(); err != nil {
			t.Fatalf("aws kms %s: %v\n%s%s", strings.Join(args, " "), err, o.String(), e.String())
		}
		return o.Bytes()
	}
	b64 := func(out []byte) []byte {
		t.Helper()
		b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(out)))
		if err != nil {
			t.Fatalf("aws printed %q: %v", out, err)
		}
		return b
	}
	msgFile := filepath.Join(dir, "cli-message.txt")
	msg := []byte("signed with the AWS CLI")
	if err := os.WriteFile(msgFile, msg, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, r := range sigs {
		pub := b64(aws("get-public-key", "--key-id", r.KeyID, "--output", "text", "--query", "PublicKey"))
		if !bytes.Equal(pub, mustHex(t, r.PublicKey)) {
			t.Fatalf("%s: aws kms get-public-key differs from boto3's", r.Spec)
		}
		spec := strings.TrimSpace(string(aws("get-public-key", "--key-id", r.KeyID, "--output", "text", "--query", "KeySpec")))
		if spec != r.Spec {
			t.Fatalf("aws kms get-public-key KeySpec %q, want %s", spec, r.Spec)
		}
		sig := b64(aws("sign", "--key-id", r.KeyID, "--message", "fileb://"+msgFile, "--message-type", "RAW",
			"--signing-algorithm", r.Algorithm, "--output", "text", "--query", "Signature"))
		verifyWithGo(t, r.Spec, r.Algorithm, pub, msg, sig)
		sigFile := filepath.Join(dir, r.Spec+".cli.sig")
		if err := os.WriteFile(sigFile, sig, 0o600); err != nil {
			t.Fatal(err)
		}
		valid := strings.TrimSpace(string(aws("verify", "--key-id", r.KeyID, "--message", "fileb://"+msgFile, "--message-type", "RAW",
			"--signature", "fileb://"+sigFile, "--signing-algorithm", r.Algorithm, "--output", "text", "--query", "SignatureValid")))
		if valid != "True" {
			t.Fatalf("%s: aws kms verify printed %q", r.Spec, valid)
		}
		// A tampered signature: the CLI exits non-zero with AWS's exception.
		sig[len(sig)/2] ^= 1
		if err := os.WriteFile(sigFile, sig, 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("aws", "--endpoint-url", endpoint, "kms", "verify", "--key-id", r.KeyID, "--message", "fileb://"+msgFile,
			"--signature", "fileb://"+sigFile, "--signing-algorithm", r.Algorithm)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "KMSInvalidSignatureException") {
			t.Fatalf("%s: aws kms verify of a tampered signature: %v\n%s", r.Spec, err, out)
		}
	}
}
