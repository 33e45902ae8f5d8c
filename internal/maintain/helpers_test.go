package maintain_test

import (
	"bytes"
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

// testChunk is the chunk size of test volumes: small, so that a few KiB
// make several chunks.
const testChunk = envelope.MinChunkSize

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

// keys is a KeyService wrapping under the newest version of the test key.
func (k *kms) keys() envelope.KeyService { return keyring.NewKeyService(k.kr, k.keyID) }

// keysFor is the KeysFor of the keyring.
func (k *kms) keysFor() maintain.KeysFor {
	return func(id string) envelope.KeyService { return keyring.NewKeyService(k.kr, id) }
}

// rotate makes a new version and returns the reference rewraps target.
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

// writeFile creates the ciphertext file rel under dir holding data.
func writeFile(t testing.TB, ks envelope.KeyService, dir, rel string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if len(data) == 0 {
		return p
	}
	f, err := envelope.Create(context.Background(), b, ks, testChunk)
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

// readFile decrypts the ciphertext file at p.
func readFile(t testing.TB, ks envelope.KeyService, p string) []byte {
	t.Helper()
	b, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	f, err := envelope.Open(context.Background(), b, ks, testChunk)
	if err != nil {
		t.Fatalf("open %s: %v", p, err)
	}
	defer f.Close()
	out := make([]byte, f.Size())
	if _, err := f.ReadAt(out, 0); err != nil && len(out) > 0 {
		t.Fatalf("read %s: %v", p, err)
	}
	return out
}

// headerRef returns the authenticated key reference of the file at p.
func headerRef(t testing.TB, ks envelope.KeyService, p string) envelope.KeyRef {
	t.Helper()
	b, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	h, err := envelope.ReadHeader(context.Background(), b, ks)
	if err != nil {
		t.Fatalf("ReadHeader %s: %v", p, err)
	}
	return h.KeyRef
}

// content returns deterministic test data of n bytes, distinct per seed.
func content(seed, n int) []byte {
	return bytes.Repeat([]byte{byte(seed), byte(seed >> 8), 'k', 'm', 's'}, n/5+1)[:n]
}

// flipBytes inverts the bytes of the file at p at the given offsets.
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
