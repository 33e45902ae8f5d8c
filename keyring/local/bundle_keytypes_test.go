package local_test

import (
	"bytes"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"testing"
	"time"

	"github.com/kmsfs/kmsfs/keyring"
	"github.com/kmsfs/kmsfs/keyring/keyspec"
)

// goWrap fetches import parameters and wraps material with Go's
// RSAES-OAEP SHA-256, as openssl does in AWS's documentation.
func goWrap(t *testing.T, env *testEnv, keyID string, material []byte) wrappedMaterial {
	t.Helper()
	p, err := env.kr.GetParametersForImport(ctxb(), &keyring.GetParametersForImportInput{KeyId: keyID,
		WrappingAlgorithm: keyspec.WrapRSAESOAEPSHA256, WrappingKeySpec: keyspec.RSA2048})
	if err != nil {
		t.Fatalf("GetParametersForImport: %v", err)
	}
	pk, err := x509.ParsePKIXPublicKey(p.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	blob, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, pk.(*rsa.PublicKey), material, nil)
	if err != nil {
		t.Fatal(err)
	}
	return wrappedMaterial{p.ImportToken, blob}
}

// TestBundleKeyTypes exports a keyring holding a key of every kind (RSA
// and ECC signing keys, an RSA encryption key, an HMAC key, an ECDH key,
// imported symmetric and HMAC material with an expiry, a key still
// PendingImport) and imports it into a fresh keyring, where every key
// describes the same and does the same: a signature made before the export
// verifies, MACs and shared secrets are equal, ciphertexts made before
// decrypt, and the PendingImport key takes only the same material.
func TestBundleKeyTypes(t *testing.T) {
	src := newEnv(t)
	msg := []byte("signed before the export")
	type signed struct {
		id, alg string
		sig     []byte
	}
	var sigs []signed
	for _, c := range []struct{ spec, alg string }{
		{keyspec.RSA2048, keyspec.RSASSAPSSSHA256},
		{keyspec.ECCNISTP256, keyspec.ECDSASHA256},
		{keyspec.ECCEd25519, keyspec.Ed25519SHA512},
		{keyspec.ECCSECGP256K1, keyspec.ECDSASHA256},
	} {
		md := createTyped(t, src, c.spec, keyspec.UsageSignVerify)
		s, err := src.kr.Sign(ctxb(), &keyring.SignInput{KeyId: md.KeyId, Message: msg, SigningAlgorithm: c.alg})
		if err != nil {
			t.Fatalf("Sign %s: %v", c.spec, err)
		}
		sigs = append(sigs, signed{md.KeyId, c.alg, s.Signature})
	}
	hm := createTyped(t, src, keyspec.HMAC256, keyspec.UsageGenerateVerifyMAC)
	mac, err := src.kr.GenerateMac(ctxb(), &keyring.GenerateMacInput{KeyId: hm.KeyId, Message: msg, MacAlgorithm: keyspec.HMACSHA256})
	if err != nil {
		t.Fatal(err)
	}
	rk := createTyped(t, src, keyspec.RSA2048, keyspec.UsageEncryptDecrypt)
	rsaCT, err := src.kr.Encrypt(ctxb(), &keyring.EncryptInput{KeyId: rk.KeyId, Plaintext: []byte("rsa secret"),
		EncryptionAlgorithm: keyspec.RSAESOAEPSHA256})
	if err != nil {
		t.Fatal(err)
	}
	ka := createTyped(t, src, keyspec.ECCNISTP256, keyspec.UsageKeyAgreement)
	peer, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	peerDER, err := x509.MarshalPKIXPublicKey(peer.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	derive := func(env *testEnv) []byte {
		t.Helper()
		out, err := env.kr.DeriveSharedSecret(ctxb(), &keyring.DeriveSharedSecretInput{KeyId: ka.KeyId, KeyAgreementAlgorithm: keyspec.ECDH,
			PublicKey: peerDER})
		if err != nil {
			t.Fatalf("DeriveSharedSecret: %v", err)
		}
		return out.SharedSecret
	}
	secret := derive(src)

	// Imported material: symmetric with an expiry, HMAC without, and a
	// key whose material was never imported.
	symMaterial := make([]byte, 32)
	rand.Read(symMaterial)
	sym, err := src.kr.CreateKey(ctxb(), &keyring.CreateKeyInput{Origin: keyring.OriginExternal})
	if err != nil {
		t.Fatal(err)
	}
	symID := sym.KeyMetadata.KeyId
	w := goWrap(t, src, symID, symMaterial)
	validTo := keyring.EpochTime{Time: src.clock.Now().Add(72 * time.Hour).Truncate(time.Second)}
	if _, err := src.kr.ImportKeyMaterial(ctxb(), &keyring.ImportKeyMaterialInput{KeyId: symID, ImportToken: w.token,
		EncryptedKeyMaterial: w.blob, ValidTo: &validTo}); err != nil {
		t.Fatalf("ImportKeyMaterial: %v", err)
	}
	symCT := src.encrypt(symID, []byte("imported secret"), map[string]string{"a": "b"})
	hmacMaterial := make([]byte, 32)
	rand.Read(hmacMaterial)
	ih, err := src.kr.CreateKey(ctxb(), &keyring.CreateKeyInput{Origin: keyring.OriginExternal, KeySpec: keyspec.HMAC256,
		KeyUsage: keyspec.UsageGenerateVerifyMAC})
	if err != nil {
		t.Fatal(err)
	}
	w = goWrap(t, src, ih.KeyMetadata.KeyId, hmacMaterial)
	if _, err := src.kr.ImportKeyMaterial(ctxb(), &keyring.ImportKeyMaterialInput{KeyId: ih.KeyMetadata.KeyId, ImportToken: w.token,
		EncryptedKeyMaterial: w.blob}); err != nil {
		t.Fatal(err)
	}
	imac, err := src.kr.GenerateMac(ctxb(), &keyring.GenerateMacInput{KeyId: ih.KeyMetadata.KeyId, Message: msg, MacAlgorithm: keyspec.HMACSHA256})
	if err != nil {
		t.Fatal(err)
	}
	pending, err := src.kr.CreateKey(ctxb(), &keyring.CreateKeyInput{Origin: keyring.OriginExternal})
	if err != nil {
		t.Fatal(err)
	}
	pendingID := pending.KeyMetadata.KeyId
	// Material imported, then deleted: PendingImport, but only this
	// material may come back, in the new keyring too.
	if _, err := src.kr.ImportKeyMaterial(ctxb(), func() *keyring.ImportKeyMaterialInput {
		w := goWrap(t, src, pendingID, symMaterial)
		return &keyring.ImportKeyMaterialInput{KeyId: pendingID, ImportToken: w.token, EncryptedKeyMaterial: w.blob}
	}()); err != nil {
		t.Fatal(err)
	}
	if _, err := src.kr.DeleteImportedKeyMaterial(ctxb(), &keyring.KeyIDInput{KeyId: pendingID}); err != nil {
		t.Fatal(err)
	}
	never, err := src.kr.CreateKey(ctxb(), &keyring.CreateKeyInput{Origin: keyring.OriginExternal, KeySpec: keyspec.ECCNISTP384,
		KeyUsage: keyspec.UsageSignVerify})
	if err != nil {
		t.Fatal(err)
	}

	bundle := src.export()
	dst := newEnv(t)
	dst.clock.Advance(src.clock.Now().Sub(dst.clock.Now()))
	out, err := dst.importBundle(bundle, false)
	if err != nil {
		t.Fatalf("ImportKeyring: %v", err)
	}
	if len(out.KeysAdded) != 11 {
		t.Fatalf("keys added %v", out.KeysAdded)
	}

	// Every key describes the same (ARNs differ only if regions did).
	for _, id := range out.KeysAdded {
		a, b := describeJSON(t, src, id), describeJSON(t, dst, id)
		if a != b {
			t.Fatalf("key %s describes differently after import:\n%s\n%s", id, a, b)
		}
	}
	for _, s := range sigs {
		if _, err := dst.kr.Verify(ctxb(), &keyring.VerifyInput{KeyId: s.id, Message: msg, Signature: s.sig, SigningAlgorithm: s.alg}); err != nil {
			t.Fatalf("signature made before the export does not verify after: %s %v", s.alg, err)
		}
		a, errA := src.kr.GetPublicKey(ctxb(), &keyring.GetPublicKeyInput{KeyId: s.id})
		b, errB := dst.kr.GetPublicKey(ctxb(), &keyring.GetPublicKeyInput{KeyId: s.id})
		if errA != nil || errB != nil || !bytes.Equal(a.PublicKey, b.PublicKey) {
			t.Fatalf("public key differs: %v %v", errA, errB)
		}
		ns, err := dst.kr.Sign(ctxb(), &keyring.SignInput{KeyId: s.id, Message: msg, SigningAlgorithm: s.alg})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := src.kr.Verify(ctxb(), &keyring.VerifyInput{KeyId: s.id, Message: msg, Signature: ns.Signature, SigningAlgorithm: s.alg}); err != nil {
			t.Fatalf("signature made after the import does not verify in the source: %v", err)
		}
	}
	if _, err := dst.kr.VerifyMac(ctxb(), &keyring.VerifyMacInput{KeyId: hm.KeyId, Message: msg, Mac: mac.Mac, MacAlgorithm: keyspec.HMACSHA256}); err != nil {
		t.Fatalf("VerifyMac after import: %v", err)
	}
	if _, err := dst.kr.VerifyMac(ctxb(), &keyring.VerifyMacInput{KeyId: ih.KeyMetadata.KeyId, Message: msg, Mac: imac.Mac,
		MacAlgorithm: keyspec.HMACSHA256}); err != nil {
		t.Fatalf("VerifyMac of imported HMAC material after import: %v", err)
	}
	dec, err := dst.kr.Decrypt(ctxb(), &keyring.DecryptInput{KeyId: rk.KeyId, CiphertextBlob: rsaCT.CiphertextBlob,
		EncryptionAlgorithm: keyspec.RSAESOAEPSHA256})
	if err != nil || string(dec.Plaintext) != "rsa secret" {
		t.Fatalf("RSA Decrypt after import: %v", err)
	}
	if got := derive(dst); !bytes.Equal(got, secret) {
		t.Fatal("DeriveSharedSecret differs after import")
	}
	if pt, err := dst.decrypt(symCT, map[string]string{"a": "b"}); err != nil || string(pt) != "imported secret" {
		t.Fatalf("imported material after import: %v", err)
	}

	// The PendingImport keys: other material is refused, the same comes back.
	other := make([]byte, 32)
	rand.Read(other)
	w = goWrap(t, dst, pendingID, other)
	_, err = dst.kr.ImportKeyMaterial(ctxb(), &keyring.ImportKeyMaterialInput{KeyId: pendingID, ImportToken: w.token, EncryptedKeyMaterial: w.blob})
	wantName(t, "other material after import", err, "IncorrectKeyMaterialException")
	w = goWrap(t, dst, pendingID, symMaterial)
	if _, err := dst.kr.ImportKeyMaterial(ctxb(), &keyring.ImportKeyMaterialInput{KeyId: pendingID, ImportToken: w.token,
		EncryptedKeyMaterial: w.blob}); err != nil {
		t.Fatalf("same material after import: %v", err)
	}
	if pt, err := dst.decrypt(dst.encrypt(pendingID, []byte("x"), nil), nil); err != nil || string(pt) != "x" {
		t.Fatalf("decrypt: %v", err)
	}
	if md := dst.describe(never.KeyMetadata.KeyId); md.KeyState != keyring.StatePendingImport || md.KeySpec != keyspec.ECCNISTP384 {
		t.Fatalf("never-imported key: %+v", md)
	}

	// The imported material still expires at its ValidTo.
	dst.clock.Advance(73 * time.Hour)
	if _, err := dst.decrypt(symCT, map[string]string{"a": "b"}); err == nil {
		t.Fatal("imported material decrypts past ValidTo")
	}
	if md := dst.describe(symID); md.KeyState != keyring.StatePendingImport {
		t.Fatalf("past ValidTo: %s", md.KeyState)
	}

	// Importing the bundle again changes nothing.
	again, err := src.importBundle(bundle, false)
	if err != nil || len(again.KeysUnchanged) != 11 {
		t.Fatalf("re-import into the source: %+v %v", again, err)
	}
}

func describeJSON(t *testing.T, env *testEnv, id string) string {
	t.Helper()
	b, err := json.Marshal(env.describe(id))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
