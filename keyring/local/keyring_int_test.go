package local

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/uuid"
	"github.com/kmsfs/kmsfs/internal/testkeys"
	"github.com/kmsfs/kmsfs/keyring"
)

var intPass = []byte("int-test passphrase 0123456789")

func openInt(t *testing.T, dir string) *Keyring {
	t.Helper()
	k, err := Open(dir, intPass, Options{Create: true, KDF: testkeys.KDF})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// testOnlyMaterial returns a copy of the unsealed key of one version.
func testOnlyMaterial(t *testing.T, k *Keyring, id string, v uint32) []byte {
	t.Helper()
	k.mu.RLock()
	defer k.mu.RUnlock()
	e, err := k.lookup(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Clone(e.material[v])
}

// TestNoSecretsOnDisk greps every file Badger wrote for the key material
// and the audit key (raw, hex, base64) and the passphrase.
func TestNoSecretsOnDisk(t *testing.T) {
	dir := t.TempDir()
	k := openInt(t, dir)
	ctx := context.Background()
	var secrets [][]byte
	for range 3 {
		out, err := k.CreateKey(ctx, &keyring.CreateKeyInput{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := k.RotateKeyOnDemand(ctx, &keyring.KeyIDInput{KeyId: out.KeyMetadata.KeyId}); err != nil {
			t.Fatal(err)
		}
		for v := uint32(1); v <= 2; v++ {
			m := testOnlyMaterial(t, k, out.KeyMetadata.KeyId, v)
			if len(m) != materialSize || bytes.Equal(m, make([]byte, materialSize)) {
				t.Fatalf("implausible material %x", m)
			}
			secrets = append(secrets, m, []byte(hex.EncodeToString(m)), []byte(base64.StdEncoding.EncodeToString(m)))
		}
	}
	if err := k.Passwd(intPass, testkeys.KDF); err != nil { // old and new seals both on disk for a while
		t.Fatal(err)
	}
	auditKey := bytes.Clone(k.audit.key)
	secrets = append(secrets, auditKey, []byte(hex.EncodeToString(auditKey)), []byte(base64.StdEncoding.EncodeToString(auditKey)))
	if err := k.Close(); err != nil {
		t.Fatal(err)
	}
	secrets = append(secrets, intPass)
	files := 0
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		for _, s := range secrets {
			if bytes.Contains(b, s) {
				t.Errorf("%s contains a secret", filepath.Base(path))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 3 {
		t.Fatalf("only %d files to search", files)
	}
	// The grep can fail: the sealed material is on disk, so a store that kept
	// it plain would be caught.
	k = openInt(t, dir)
	defer k.Close()
	if len(k.keys) != 3 {
		t.Fatalf("reopened with %d keys", len(k.keys))
	}
}

func TestCanonicalContext(t *testing.T) {
	tests := []struct {
		ctx  map[string]string
		want string // hex
	}{
		{nil, ""},
		{map[string]string{}, ""},
		{map[string]string{"a": "bc"}, "0001" + "0001" + "61" + "0002" + "6263"},
		{map[string]string{"ab": "c"}, "0001" + "0002" + "6162" + "0001" + "63"},
		{map[string]string{"b": "", "a": "x"}, "0002" + "0001" + "61" + "0001" + "78" + "0001" + "62" + "0000"},
	}
	for _, tc := range tests {
		got, err := keyring.EncodeContext(tc.ctx)
		if err != nil || hex.EncodeToString(got) != tc.want {
			t.Errorf("EncodeContext(%v) = %x, %v; want %s", tc.ctx, got, err, tc.want)
		}
	}
	_, err := keyring.EncodeContext(map[string]string{"k": string(make([]byte, 65536))})
	if !errors.Is(err, keyring.ErrValidation) {
		t.Fatalf("oversized value: %v", err)
	}
}

func TestParseBlobLayout(t *testing.T) {
	h := BlobHeader{KeyID: uuid.MustParse("00112233-4455-6677-8899-aabbccddeeff"), KeyVersion: 0x01020304, Ciphertext: make([]byte, 17)}
	for i := range h.Salt {
		h.Salt[i] = byte(i)
	}
	b := h.Marshal()
	wantPrefix := "01" + "00112233445566778899aabbccddeeff" + "01020304" + hex.EncodeToString(h.Salt[:])
	if hex.EncodeToString(b[:BlobHeaderSize]) != wantPrefix || len(b) != BlobHeaderSize+17 {
		t.Fatalf("layout %x", b)
	}
	got, err := ParseBlob(b)
	if err != nil || got.KeyID != h.KeyID || got.KeyVersion != h.KeyVersion || got.Salt != h.Salt || !bytes.Equal(got.Ciphertext, h.Ciphertext) {
		t.Fatalf("ParseBlob: %+v %v", got, err)
	}
	b[0] = 2
	if _, err := ParseBlob(b); !errors.Is(err, keyring.ErrInvalidCiphertext) {
		t.Fatalf("version 2 blob: %v", err)
	}
}
