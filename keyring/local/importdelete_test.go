package local_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"testing"

	"github.com/kmsfs/kmsfs/keyring"
	"github.com/kmsfs/kmsfs/keyring/keyspec"
)

// TestDeleteImportedKeyMaterialWhilePendingDeletion follows AWS's API
// reference for DeleteImportedKeyMaterial: on a key pending deletion the
// material goes, but the state and the deletion date stay; cancelling the
// deletion then leaves the key waiting for an import, not usable.
func TestDeleteImportedKeyMaterialWhilePendingDeletion(t *testing.T) {
	env := newEnv(t)
	out, err := env.kr.CreateKey(ctxb(), &keyring.CreateKeyInput{Origin: keyring.OriginExternal})
	if err != nil {
		t.Fatal(err)
	}
	id := out.KeyMetadata.KeyId
	p, err := env.kr.GetParametersForImport(ctxb(), &keyring.GetParametersForImportInput{KeyId: id,
		WrappingAlgorithm: keyspec.WrapRSAESOAEPSHA256, WrappingKeySpec: keyspec.RSA2048})
	if err != nil {
		t.Fatal(err)
	}
	pk, err := x509.ParsePKIXPublicKey(p.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	material := make([]byte, 32)
	rand.Read(material)
	wrapped, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, pk.(*rsa.PublicKey), material, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.kr.ImportKeyMaterial(ctxb(), &keyring.ImportKeyMaterialInput{KeyId: id, ImportToken: p.ImportToken,
		EncryptedKeyMaterial: wrapped, ExpirationModel: keyring.ExpirationNoKeyMaterial}); err != nil {
		t.Fatal(err)
	}
	blob := env.encrypt(id, []byte("secret"), nil)
	sched, err := env.kr.ScheduleKeyDeletion(ctxb(), &keyring.ScheduleKeyDeletionInput{KeyId: id, PendingWindowInDays: 7})
	if err != nil {
		t.Fatal(err)
	}

	if _, err := env.kr.DeleteImportedKeyMaterial(ctxb(), &keyring.KeyIDInput{KeyId: id}); err != nil {
		t.Fatalf("DeleteImportedKeyMaterial while pending deletion: %v", err)
	}
	md := env.describe(id)
	if md.KeyState != keyring.StatePendingDeletion || md.DeletionDate == nil || !md.DeletionDate.Equal(sched.DeletionDate.Time) {
		t.Fatalf("after deleting the material: state %s, deletion date %v; want PendingDeletion on %v", md.KeyState, md.DeletionDate, sched.DeletionDate)
	}
	if _, err := env.kr.CancelKeyDeletion(ctxb(), &keyring.KeyIDInput{KeyId: id}); err != nil {
		t.Fatal(err)
	}
	if md := env.describe(id); md.KeyState != keyring.StatePendingImport {
		t.Fatalf("cancelled deletion of a key without material: %s, want PendingImport", md.KeyState)
	}
	if _, err := env.decrypt(blob, nil); err == nil {
		t.Fatal("a ciphertext decrypted after its key's material was deleted")
	}
}
