package keyspec

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/kmsfs/kmsfs/keyring"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestKWPVectors checks RFC 5649 section 6's two examples.
func TestKWPVectors(t *testing.T) {
	kek := "5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8"
	tests := []struct{ key, wrapped string }{
		{"c37b7e6492584340bed12207808941155068f738", "138bdeaa9b8fa7fc61f97742e72248ee5ae6ae5360d1ae6a5f54f373fa543b6a"},
		{"466f7250617369", "afbeb0f07dfbf5419200f2ccb50bb24f"},
	}
	for _, tt := range tests {
		got, err := kwpWrap(unhex(t, kek), unhex(t, tt.key))
		if err != nil || hex.EncodeToString(got) != tt.wrapped {
			t.Errorf("kwpWrap(%s) = %x, %v; want %s", tt.key, got, err, tt.wrapped)
		}
		pt, err := kwpUnwrap(unhex(t, kek), unhex(t, tt.wrapped))
		if err != nil || hex.EncodeToString(pt) != tt.key {
			t.Errorf("kwpUnwrap(%s) = %x, %v; want %s", tt.wrapped, pt, err, tt.key)
		}
	}
}

// TestKWPRoundTrip wraps every length from 1 to 70 bytes and tampers with
// each wrap: every change fails with the one opaque error.
func TestKWPRoundTrip(t *testing.T) {
	kek := make([]byte, 32)
	rand.Read(kek)
	for n := 1; n <= 70; n++ {
		pt := make([]byte, n)
		rand.Read(pt)
		c, err := kwpWrap(kek, pt)
		if err != nil || len(c) != 8+(n+7)/8*8 {
			t.Fatalf("len=%d: wrap %d bytes, %v", n, len(c), err)
		}
		got, err := kwpUnwrap(kek, c)
		if err != nil || !bytes.Equal(got, pt) {
			t.Fatalf("len=%d: unwrap: %v", n, err)
		}
		for i := range c {
			bad := append([]byte(nil), c...)
			bad[i] ^= 1
			if _, err := kwpUnwrap(kek, bad); !errors.Is(err, errKWP) {
				t.Fatalf("len=%d: byte %d flipped: %v", n, i, err)
			}
		}
		for _, bad := range [][]byte{c[:len(c)-8], append(append([]byte(nil), c...), make([]byte, 8)...), c[1:]} {
			if _, err := kwpUnwrap(kek, bad); !errors.Is(err, errKWP) {
				t.Fatalf("len=%d: %d-byte wrap accepted", n, len(bad))
			}
		}
	}
	if _, err := kwpWrap(kek, nil); err == nil {
		t.Error("empty plaintext wrapped")
	}
}

// TestImportGoWrapped imports material wrapped with this package's own
// KWP, without openssl: RSA_AES_KEY_WRAP_SHA_256 of an RSA private key.
func TestImportGoWrapped(t *testing.T) {
	wk, err := NewWrappingKey(RSA2048, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	orig, _ := Generate(RSA2048, rand.Reader)
	material, _ := orig.Bytes()
	aesKey := make([]byte, 32)
	rand.Read(aesKey)
	wrappedKey, err := wk.Encrypt(rand.Reader, RSAESOAEPSHA256, aesKey)
	if err != nil {
		t.Fatal(err)
	}
	wrapped, err := kwpWrap(aesKey, material)
	if err != nil {
		t.Fatal(err)
	}
	got, err := UnwrapImportedMaterial(wk, WrapRSAAESKeyWrapSHA256, append(wrappedKey, wrapped...))
	if err != nil || !bytes.Equal(got, material) {
		t.Fatalf("UnwrapImportedMaterial: %v", err)
	}
	// The wrong OAEP hash is an invalid ciphertext.
	if _, err := UnwrapImportedMaterial(wk, WrapRSAAESKeyWrapSHA1, append(wrappedKey, wrapped...)); !errors.Is(err, keyring.ErrInvalidCiphertext) {
		t.Fatalf("wrong hash: %v", err)
	}
	// An AES-128 ephemeral key is refused (AWS wants AES-256).
	short, _ := wk.Encrypt(rand.Reader, RSAESOAEPSHA256, aesKey[:16])
	w16, _ := kwpWrap(aesKey[:16], material)
	if _, err := UnwrapImportedMaterial(wk, WrapRSAAESKeyWrapSHA256, append(short, w16...)); !errors.Is(err, keyring.ErrInvalidCiphertext) {
		t.Fatalf("AES-128 key: %v", err)
	}
}

// FuzzKWPUnwrap: no panic on any input; whatever unwraps, wraps back to
// the same bytes.
func FuzzKWPUnwrap(f *testing.F) {
	kek := bytes.Repeat([]byte{0x42}, 32)
	for _, n := range []int{1, 8, 9, 32, 121} {
		c, err := kwpWrap(kek, bytes.Repeat([]byte{byte(n)}, n))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(c)
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, c []byte) {
		pt, err := kwpUnwrap(kek, c)
		if err != nil {
			return
		}
		back, err := kwpWrap(kek, pt)
		if err != nil || !bytes.Equal(back, c) {
			t.Fatalf("unwrap of %x does not wrap back: %x, %v", c, back, err)
		}
	})
}
