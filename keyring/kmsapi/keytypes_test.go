package kmsapi_test

import (
	"encoding/base64"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/kmsfs/kmsfs/keyring"
	"github.com/kmsfs/kmsfs/keyring/kmsapi"
)

// TestKeyTypesOverHTTP drives the key-type operations with raw AWS JSON
// requests and checks the exact exception names AWS SDKs match on.
func TestKeyTypesOverHTTP(t *testing.T) {
	kr := openKeyring(t, filepath.Join(t.TempDir(), "keyring"))
	c, url := newHTTPClient(t, kr, kmsapi.HandlerOptions{})
	ctx := t.Context()
	post := func(target string, body any) (int, map[string]any) {
		t.Helper()
		b, _ := json.Marshal(body)
		r := rawPost(t, url, "POST", jsonType, "TrentService."+target, b, false)
		var out map[string]any
		if err := json.Unmarshal(r.body, &out); err != nil {
			t.Fatalf("%s: %s", target, r.body)
		}
		return r.status, out
	}
	b64 := base64.StdEncoding.EncodeToString
	_, created := post("CreateKey", map[string]any{"KeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY"})
	md := created["KeyMetadata"].(map[string]any)
	id := md["KeyId"].(string)
	if algs, _ := md["SigningAlgorithms"].([]any); len(algs) != 1 || algs[0] != "ECDSA_SHA_256" {
		t.Errorf("SigningAlgorithms %v", md["SigningAlgorithms"])
	}
	if _, ok := md["EncryptionAlgorithms"]; ok {
		t.Errorf("a signing key lists EncryptionAlgorithms: %v", md)
	}
	status, signed := post("Sign", map[string]any{"KeyId": id, "Message": b64([]byte("hi")), "SigningAlgorithm": "ECDSA_SHA_256"})
	if status != 200 {
		t.Fatalf("Sign: %d %v", status, signed)
	}
	sig, _ := base64.StdEncoding.DecodeString(signed["Signature"].(string))
	status, ok := post("Verify", map[string]any{"KeyId": id, "Message": b64([]byte("hi")), "Signature": b64(sig), "SigningAlgorithm": "ECDSA_SHA_256"})
	if status != 200 || ok["SignatureValid"] != true {
		t.Fatalf("Verify: %d %v", status, ok)
	}
	sig[len(sig)-1] ^= 1
	for _, tc := range []struct {
		target string
		body   map[string]any
		want   string
	}{
		{"Verify", map[string]any{"KeyId": id, "Message": b64([]byte("hi")), "Signature": b64(sig), "SigningAlgorithm": "ECDSA_SHA_256"}, "KMSInvalidSignatureException"},
		{"Encrypt", map[string]any{"KeyId": id, "Plaintext": b64([]byte("hi"))}, "InvalidKeyUsageException"},
		{"Sign", map[string]any{"KeyId": id, "Message": b64([]byte("hi")), "SigningAlgorithm": "RSASSA_PSS_SHA_256"}, "InvalidKeyUsageException"},
		{"GenerateMac", map[string]any{"KeyId": id, "Message": b64([]byte("hi")), "MacAlgorithm": "HMAC_SHA_256"}, "InvalidKeyUsageException"},
		{"ImportKeyMaterial", map[string]any{"KeyId": id, "ImportToken": b64([]byte("t")), "EncryptedKeyMaterial": b64([]byte("m"))}, "UnsupportedOperationException"},
		{"EnableKeyRotation", map[string]any{"KeyId": id}, "UnsupportedOperationException"},
	} {
		status, out := post(tc.target, tc.body)
		if status != 400 || out["__type"] != tc.want {
			t.Errorf("%s: %d %v, want %s", tc.target, status, out, tc.want)
		}
	}
	// The client speaks the same operations.
	mac, err := c.CreateKey(ctx, &keyring.CreateKeyInput{KeySpec: "HMAC_256", KeyUsage: "GENERATE_VERIFY_MAC"})
	if err != nil {
		t.Fatal(err)
	}
	m, err := c.GenerateMac(ctx, &keyring.GenerateMacInput{KeyId: mac.KeyMetadata.KeyId, Message: []byte("x"), MacAlgorithm: "HMAC_SHA_256"})
	if err != nil {
		t.Fatal(err)
	}
	m.Mac[0] ^= 1
	_, err = c.VerifyMac(ctx, &keyring.VerifyMacInput{KeyId: mac.KeyMetadata.KeyId, Message: []byte("x"), Mac: m.Mac, MacAlgorithm: "HMAC_SHA_256"})
	if name, _ := keyring.ErrorType(err); name != "KMSInvalidMacException" {
		t.Errorf("VerifyMac of a wrong MAC over the client: %v", err)
	}
	ext, err := c.CreateKey(ctx, &keyring.CreateKeyInput{Origin: "EXTERNAL"})
	if err != nil || ext.KeyMetadata.KeyState != "PendingImport" {
		t.Fatalf("CreateKey EXTERNAL: %+v %v", ext, err)
	}
	p, err := c.GetParametersForImport(ctx, &keyring.GetParametersForImportInput{KeyId: ext.KeyMetadata.KeyId,
		WrappingAlgorithm: "RSAES_OAEP_SHA_256", WrappingKeySpec: "RSA_2048"})
	if err != nil || len(p.PublicKey) == 0 || len(p.ImportToken) == 0 {
		t.Fatalf("GetParametersForImport: %v", err)
	}
	_, err = c.ImportKeyMaterial(ctx, &keyring.ImportKeyMaterialInput{KeyId: ext.KeyMetadata.KeyId, ImportToken: []byte("bad"),
		EncryptedKeyMaterial: []byte("x")})
	if name, _ := keyring.ErrorType(err); name != "InvalidImportTokenException" {
		t.Errorf("ImportKeyMaterial with a bad token: %v", err)
	}
}
