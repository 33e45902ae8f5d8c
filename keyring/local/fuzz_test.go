package local_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kmsfs/kmsfs/internal/testkeys"
	"github.com/kmsfs/kmsfs/keyring"
	"github.com/kmsfs/kmsfs/keyring/local"
)

// blobSeeds loads the hex blobs in testdata/blobs.
func blobSeeds(f *testing.F) [][]byte {
	f.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "blobs", "*.hex"))
	if err != nil {
		f.Fatal(err)
	}
	var seeds [][]byte
	for _, p := range paths {
		text, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		b, err := hex.DecodeString(strings.TrimSpace(string(text)))
		if err != nil {
			f.Fatalf("%s: %v", p, err)
		}
		seeds = append(seeds, b)
	}
	if len(seeds) == 0 {
		f.Fatal("no seeds in testdata/blobs")
	}
	return seeds
}

// FuzzParseBlob checks that ParseBlob never panics and that whatever it
// accepts marshals back to the same bytes.
func FuzzParseBlob(f *testing.F) {
	for _, s := range blobSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := local.ParseBlob(b)
		if err != nil {
			if !errors.Is(err, keyring.ErrInvalidCiphertext) {
				t.Fatalf("error %v does not wrap ErrInvalidCiphertext", err)
			}
			return
		}
		if !bytes.Equal(h.Marshal(), b) {
			t.Fatalf("Marshal(ParseBlob(b)) != b")
		}
		if len(h.Ciphertext) < 17 || len(h.Ciphertext) > local.MaxPlaintext+16 {
			t.Fatalf("accepted ciphertext of %d bytes", len(h.Ciphertext))
		}
	})
}

// FuzzDecrypt feeds arbitrary blobs and contexts to Decrypt, seeded with
// real blobs of a real key: it must never panic, and must fail only with
// ErrInvalidCiphertext (or ErrValidation for an oversized context).
func FuzzDecrypt(f *testing.F) {
	kr, err := local.Open(f.TempDir(), testPass, local.Options{Create: true, KDF: testkeys.KDF})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { kr.Close() })
	out, err := kr.CreateKey(ctxb(), &keyring.CreateKeyInput{})
	if err != nil {
		f.Fatal(err)
	}
	id := out.KeyMetadata.KeyId
	for _, s := range blobSeeds(f) {
		f.Add(s, "", "")
	}
	for _, pt := range []string{"x", "hello world", strings.Repeat("z", 300)} {
		enc, err := kr.Encrypt(ctxb(), &keyring.EncryptInput{KeyId: id, Plaintext: []byte(pt), EncryptionContext: map[string]string{"k": "v"}})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(enc.CiphertextBlob, "k", "v")
	}
	f.Fuzz(func(t *testing.T, blob []byte, key, value string) {
		var ec map[string]string
		if key != "" || value != "" {
			ec = map[string]string{key: value}
		}
		_, err := kr.Decrypt(ctxb(), &keyring.DecryptInput{CiphertextBlob: blob, EncryptionContext: ec})
		if err != nil && !errors.Is(err, keyring.ErrInvalidCiphertext) && !errors.Is(err, keyring.ErrValidation) {
			t.Fatalf("Decrypt: unexpected error %v", err)
		}
	})
}

// FuzzParseBundle checks that ParseBundle never panics, fails only with
// ErrBundleCorrupt, and that whatever it accepts marshals back to the same
// bytes. Bundles with the cheap test KDF (as the seeds have) are also
// opened with the seeds' passphrase: that may only succeed or fail with
// ErrWrongPassphrase or ErrBundleCorrupt.
func FuzzParseBundle(f *testing.F) {
	paths, err := filepath.Glob(filepath.Join("testdata", "bundles", "*.hex"))
	if err != nil || len(paths) == 0 {
		f.Fatalf("no seeds in testdata/bundles: %v", err)
	}
	for _, p := range paths {
		text, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		b, err := hex.DecodeString(strings.TrimSpace(string(text)))
		if err != nil {
			f.Fatalf("%s: %v", p, err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := local.ParseBundle(b)
		if err != nil {
			if !errors.Is(err, keyring.ErrBundleCorrupt) {
				t.Fatalf("error %v does not wrap ErrBundleCorrupt", err)
			}
			return
		}
		if !bytes.Equal(h.Marshal(), b) {
			t.Fatal("Marshal(ParseBundle(b)) != b")
		}
		if h.KDF != testkeys.KDF {
			return // other parameters may be slow by design
		}
		_, err = local.InspectBundle(b, []byte("fuzz passphrase"))
		if err != nil && !errors.Is(err, keyring.ErrWrongPassphrase) && !errors.Is(err, keyring.ErrBundleCorrupt) {
			t.Fatalf("InspectBundle: unexpected error %v", err)
		}
	})
}
