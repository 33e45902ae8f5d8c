package session_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/uuid"

	"github.com/kmsfs/kmsfs/envelope"
	"github.com/kmsfs/kmsfs/internal/maintain"
	"github.com/kmsfs/kmsfs/internal/testkeys"
	"github.com/kmsfs/kmsfs/keyring"
	"github.com/kmsfs/kmsfs/keyring/local"
)

// kms is a real keyring with one key, for tests.
type kms struct {
	kr    *local.Keyring
	keyID string // UUID
}

func newKMS(t testing.TB) *kms {
	t.Helper()
	kr, err := local.Open(filepath.Join(t.TempDir(), "keyring"), []byte("test"), local.Options{Create: true, KDF: testkeys.KDF})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kr.Close() })
	out, err := kr.CreateKey(context.Background(), &keyring.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	return &kms{kr: kr, keyID: out.KeyMetadata.KeyId}
}

func (k *kms) keys() envelope.KeyService { return keyring.NewKeyService(k.kr, k.keyID) }

func (k *kms) rotate(t testing.TB) envelope.KeyRef {
	t.Helper()
	out, err := k.kr.RotateKeyOnDemand(context.Background(), &keyring.KeyIDInput{KeyId: k.keyID})
	if err != nil {
		t.Fatal(err)
	}
	return k.ref(out.KeyVersion)
}

func (k *kms) ref(v uint32) envelope.KeyRef {
	return envelope.KeyRef{KeyID: uuid.MustParse(k.keyID), Version: v}
}

func newLocal(t *testing.T, dir string, k *kms, o maintain.LocalOptions) *maintain.Local {
	t.Helper()
	keysFor := func(id string) envelope.KeyService { return keyring.NewKeyService(k.kr, id) }
	l, err := maintain.NewLocal(dir, keysFor, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// writeFile creates the ciphertext file rel under dir holding data.
func writeFile(t testing.TB, ks envelope.KeyService, dir, rel string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, rel)
	b, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if len(data) == 0 {
		return p
	}
	f, err := envelope.Create(context.Background(), b, ks, envelope.MinChunkSize)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(data, 0); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return p
}

// flipBytes inverts the byte of the file at p at each offset.
func flipBytes(t testing.TB, p string, offs ...int64) {
	t.Helper()
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, off := range offs {
		b := make([]byte, 1)
		if _, err := f.ReadAt(b, off); err != nil {
			t.Fatal(err)
		}
		b[0] ^= 0xff
		if _, err := f.WriteAt(b, off); err != nil {
			t.Fatal(err)
		}
	}
}

// content returns deterministic test data of n bytes, distinct per seed.
func content(seed, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(seed + i*7)
	}
	return b
}
