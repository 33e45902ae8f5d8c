package keyspec_test

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os/exec"
	"sync"
	"testing"

	kwp "github.com/tink-crypto/tink-go/v2/kwp/subtle"

	"github.com/kmsfs/kmsfs/keyring"
	"github.com/kmsfs/kmsfs/keyring/keyspec"
)

// BYOK's AES Key Wrap with Padding is tink-go's kwp/subtle; these tests
// pin what import relies on: RFC 5649 and Wycheproof answers, the 16-byte
// minimum, opaque failures, and every material size AWS imports.

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// kwpWrap wraps pt under kek with tink, as an importer would.
func kwpWrap(t testing.TB, kek, pt []byte) []byte {
	t.Helper()
	w, err := kwp.NewKWP(kek)
	if err != nil {
		t.Fatal(err)
	}
	c, err := w.Wrap(pt)
	if err != nil {
		t.Fatalf("Wrap(%d bytes): %v", len(pt), err)
	}
	return c
}

// importFixture is an RSA_2048 wrapping key and the RSAES_OAEP_SHA_256
// encryption of an AES-256 key under it: the first half of an
// RSA_AES_KEY_WRAP_SHA_256 EncryptedKeyMaterial.
type importFixture struct {
	wk         *keyspec.Material
	aesKey     []byte
	wrappedKey []byte
}

var (
	fixtureOnce sync.Once
	fixture     importFixture
	fixtureErr  error
)

func newImportFixture(t testing.TB) importFixture {
	t.Helper()
	fixtureOnce.Do(func() {
		fixture.wk, fixtureErr = keyspec.NewWrappingKey(keyspec.RSA2048, rand.Reader)
		if fixtureErr != nil {
			return
		}
		fixture.aesKey = make([]byte, 32)
		rand.Read(fixture.aesKey)
		fixture.wrappedKey, fixtureErr = fixture.wk.Encrypt(rand.Reader, keyspec.RSAESOAEPSHA256, fixture.aesKey)
	})
	if fixtureErr != nil {
		t.Fatal(fixtureErr)
	}
	return fixture
}

// unwrapKWP imports kwpPart, wrapped under an AES-256 key given by f.
func (f importFixture) unwrapKWP(kwpPart []byte) ([]byte, error) {
	enc := append(append([]byte(nil), f.wrappedKey...), kwpPart...)
	return keyspec.UnwrapImportedMaterial(f.wk, keyspec.WrapRSAAESKeyWrapSHA256, enc)
}

// TestKWPVectors checks known answers through tink, both ways: Wycheproof's
// AES-256 KWP vectors (aes_kwp_test.json, tcId 161, 164, 167: 16, 24 and
// 32 bytes) and RFC 5649 section 6's 20-byte example.
func TestKWPVectors(t *testing.T) {
	tests := []struct{ kek, key, wrapped string }{
		{"fce0429c610658ef8e7cfb0154c51de2239a8a317f5af5b6714f985fb5c4d75c", "287326b5ed0078e7ca0164d748f667e7", "e3eab96d9a2fda12f9e252053aff15e753e5ea6f5172c92b"},
		{"07518a82cbc8da1dcec55f3763a206d277487abd03cedd0b8bef9ee2fb157121", "faa4664d79fce3c7d2fdd462f6c1c423c2f8e6b69be2e071", "4b1220525c537aec30ebcd562b694b4e9e2ccd819de22ef608b5d8090779d9de"},
		{"38e1b1d075d9d852b9a6c01c8ff6965af01bac457a4e339ae3e1d7b2ffacc0cd", "80ad6820f1c90981e2ca42b817a345c1179d0a11d8e23a8adc0505e13d87295a", "b63b7e0fec7e315816233db6758fd3e744b9f6a40862bdf866487e53bcb950d8b2649269e51b4475"},
	}
	for _, tt := range tests {
		if got := kwpWrap(t, unhex(t, tt.kek), unhex(t, tt.key)); hex.EncodeToString(got) != tt.wrapped {
			t.Errorf("Wrap(%s) = %x, want %s", tt.key, got, tt.wrapped)
		}
		w, _ := kwp.NewKWP(unhex(t, tt.kek))
		if pt, err := w.Unwrap(unhex(t, tt.wrapped)); err != nil || hex.EncodeToString(pt) != tt.key {
			t.Errorf("Unwrap(%s) = %x, %v; want %s", tt.wrapped, pt, err, tt.key)
		}
	}
	t.Run("RFC5649", testRFC5649Vector)
}

// The RFC's example has a 192-bit KEK, which tink (AES-128 and AES-256
// only, as BYOK needs) refuses. openssl is checked against the RFC with
// AES-192, then wraps the same 20 bytes under an AES-256 key: tink must
// unwrap them through UnwrapImportedMaterial and wrap them back to the
// same bytes.
func testRFC5649Vector(t *testing.T) {
	const (
		kek     = "5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8"
		key     = "c37b7e6492584340bed12207808941155068f738"
		wrapped = "138bdeaa9b8fa7fc61f97742e72248ee5ae6ae5360d1ae6a5f54f373fa543b6a"
	)
	if _, err := kwp.NewKWP(unhex(t, kek)); err == nil {
		t.Error("tink took an AES-192 KEK")
	}
	openssl := lookOpenSSL(t)
	wrapPad := func(bits, kek string) []byte {
		cmd := exec.Command(openssl, "enc", "-id-aes"+bits+"-wrap-pad", "-K", kek, "-iv", "A65959A6")
		cmd.Stdin = bytes.NewReader(unhex(t, key))
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("openssl -id-aes%s-wrap-pad: %v", bits, err)
		}
		return out
	}
	if got := wrapPad("192", kek); hex.EncodeToString(got) != wrapped {
		t.Fatalf("openssl does not reproduce RFC 5649: %x", got)
	}
	f := newImportFixture(t)
	c := wrapPad("256", hex.EncodeToString(f.aesKey))
	pt, err := f.unwrapKWP(c)
	if err != nil || hex.EncodeToString(pt) != key {
		t.Fatalf("UnwrapImportedMaterial = %x, %v; want %s", pt, err, key)
	}
	if back := kwpWrap(t, f.aesKey, pt); !bytes.Equal(back, c) {
		t.Fatalf("tink wraps %x, openssl %x", back, c)
	}
}

// TestKWPShortRefused: material under tink's 16 bytes is refused. RFC
// 5649's 7-byte example (AES-192, which tink refuses too) and Wycheproof's
// 7-byte AES-256 vector (tcId 177), both correct RFC 5649 wraps, are
// invalid ciphertext for import. AWS's smallest importable material is
// 28 bytes (HMAC_224).
func TestKWPShortRefused(t *testing.T) {
	if _, err := kwp.NewKWP(unhex(t, "5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8")); err == nil {
		t.Error("tink took RFC 5649's AES-192 KEK")
	}
	if pt, err := newImportFixture(t).unwrapKWP(unhex(t, "afbeb0f07dfbf5419200f2ccb50bb24f")); !errors.Is(err, keyring.ErrInvalidCiphertext) {
		t.Errorf("RFC 5649's 7-byte example: %x, %v; want ErrInvalidCiphertext", pt, err)
	}
	kek := unhex(t, "1abf4b7fa2bb62a78f09ddab04625dcacdd9e551d1a69b6b162baa53d2700093")
	w, err := kwp.NewKWP(kek)
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := w.Unwrap(unhex(t, "68a52de00ec0f1ebbedc38fee6be0c23")); err == nil {
		t.Fatalf("7-byte wrap unwrapped to %x", pt)
	}
	for n := 0; n < kwp.MinWrapSize; n++ {
		if _, err := w.Wrap(make([]byte, n)); err == nil {
			t.Errorf("%d bytes wrapped", n)
		}
	}
	wk, err := keyspec.NewWrappingKey(keyspec.RSA2048, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	wrappedKey, err := wk.Encrypt(rand.Reader, keyspec.RSAESOAEPSHA1, kek)
	if err != nil {
		t.Fatal(err)
	}
	enc := append(wrappedKey, unhex(t, "68a52de00ec0f1ebbedc38fee6be0c23")...)
	if _, err := keyspec.UnwrapImportedMaterial(wk, keyspec.WrapRSAAESKeyWrapSHA1, enc); !errors.Is(err, keyring.ErrInvalidCiphertext) {
		t.Fatalf("7-byte material: %v, want ErrInvalidCiphertext", err)
	}
}

// TestImportKWPRoundTrip imports wraps of lengths around tink's minimum
// and 8-byte block edges, and tampers with each: every changed byte, a
// block too few or too many, or a byte short fails with the one opaque
// ErrInvalidCiphertext.
func TestImportKWPRoundTrip(t *testing.T) {
	f := newImportFixture(t)
	for _, n := range []int{16, 17, 23, 24, 25, 28, 32, 33, 47, 64, 70} {
		pt := make([]byte, n)
		rand.Read(pt)
		c := kwpWrap(t, f.aesKey, pt)
		if len(c) != 8+(n+7)/8*8 {
			t.Fatalf("len=%d: %d-byte wrap", n, len(c))
		}
		got, err := f.unwrapKWP(c)
		if err != nil || !bytes.Equal(got, pt) {
			t.Fatalf("len=%d: unwrap: %v", n, err)
		}
		for i := range c {
			if _, err := f.unwrapKWP(flip(c, i)); !errors.Is(err, keyring.ErrInvalidCiphertext) {
				t.Fatalf("len=%d: byte %d flipped: %v", n, i, err)
			}
		}
		for _, bad := range [][]byte{c[:len(c)-8], append(append([]byte(nil), c...), make([]byte, 8)...), c[1:], nil} {
			if _, err := f.unwrapKWP(bad); !errors.Is(err, keyring.ErrInvalidCiphertext) {
				t.Fatalf("len=%d: %d-byte wrap: %v", n, len(bad), err)
			}
		}
	}
}

// TestImportKWPSizes imports every material size AWS allows through
// RSA_AES_KEY_WRAP: HMAC's 28 to 128 bytes, SYMMETRIC_DEFAULT's 32, and
// PKCS#8 from Ed25519 (48 bytes) to RSA_4096 (about 2.4 KB), wrapped with
// an RSA_4096 wrapping key.
func TestImportKWPSizes(t *testing.T) {
	f := newImportFixture(t)
	for n := 28; n <= 128; n++ {
		pt := make([]byte, n)
		rand.Read(pt)
		if got, err := f.unwrapKWP(kwpWrap(t, f.aesKey, pt)); err != nil || !bytes.Equal(got, pt) {
			t.Fatalf("%d bytes: %v", n, err)
		}
	}
	wk, err := keyspec.NewWrappingKey(keyspec.RSA4096, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for _, spec := range []string{"SYMMETRIC_DEFAULT", "ECC_NIST_EDWARDS25519", "ECC_NIST_P521", "RSA_4096"} {
		material, err := generate(t, spec).Bytes()
		if err != nil {
			t.Fatal(err)
		}
		aesKey := make([]byte, 32)
		rand.Read(aesKey)
		wrappedKey, err := wk.Encrypt(rand.Reader, keyspec.RSAESOAEPSHA1, aesKey)
		if err != nil {
			t.Fatal(err)
		}
		enc := append(wrappedKey, kwpWrap(t, aesKey, material)...)
		got, err := keyspec.UnwrapImportedMaterial(wk, keyspec.WrapRSAAESKeyWrapSHA1, enc)
		if err != nil || !bytes.Equal(got, material) {
			t.Fatalf("%s (%d bytes, %d encrypted): %v", spec, len(material), len(enc), err)
		}
		if _, err := keyspec.ParseMaterial(spec, got); err != nil {
			t.Fatalf("%s: %v", spec, err)
		}
		t.Logf("%s: %d bytes of material, %d of EncryptedKeyMaterial", spec, len(material), len(enc))
	}
}

// TestImportGoWrapped imports material wrapped with tink, without openssl:
// RSA_AES_KEY_WRAP_SHA_256 of an RSA private key.
func TestImportGoWrapped(t *testing.T) {
	wk, err := keyspec.NewWrappingKey(keyspec.RSA2048, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	material, _ := generate(t, keyspec.RSA2048).Bytes()
	aesKey := make([]byte, 32)
	rand.Read(aesKey)
	wrappedKey, err := wk.Encrypt(rand.Reader, keyspec.RSAESOAEPSHA256, aesKey)
	if err != nil {
		t.Fatal(err)
	}
	wrapped := kwpWrap(t, aesKey, material)
	got, err := keyspec.UnwrapImportedMaterial(wk, keyspec.WrapRSAAESKeyWrapSHA256, append(wrappedKey, wrapped...))
	if err != nil || !bytes.Equal(got, material) {
		t.Fatalf("UnwrapImportedMaterial: %v", err)
	}
	// The wrong OAEP hash is an invalid ciphertext.
	if _, err := keyspec.UnwrapImportedMaterial(wk, keyspec.WrapRSAAESKeyWrapSHA1, append(wrappedKey, wrapped...)); !errors.Is(err, keyring.ErrInvalidCiphertext) {
		t.Fatalf("wrong hash: %v", err)
	}
	// An AES-128 ephemeral key is refused (AWS wants AES-256), though tink
	// would unwrap with it.
	short, _ := wk.Encrypt(rand.Reader, keyspec.RSAESOAEPSHA256, aesKey[:16])
	w16 := kwpWrap(t, aesKey[:16], material)
	if _, err := keyspec.UnwrapImportedMaterial(wk, keyspec.WrapRSAAESKeyWrapSHA256, append(short, w16...)); !errors.Is(err, keyring.ErrInvalidCiphertext) {
		t.Fatalf("AES-128 key: %v", err)
	}
}

// FuzzImportKWP fuzzes the KWP half of RSA_AES_KEY_WRAP_SHA_256
// EncryptedKeyMaterial through UnwrapImportedMaterial, behind a valid
// RSA-OAEP half: no panic; failures are ErrInvalidCiphertext; whatever
// unwraps, tink wraps back to the same bytes.
func FuzzImportKWP(f *testing.F) {
	fx := newImportFixture(f)
	for _, n := range []int{16, 28, 32, 121} {
		f.Add(kwpWrap(f, fx.aesKey, bytes.Repeat([]byte{byte(n)}, n)))
	}
	f.Add(unhex(f, "68a52de00ec0f1ebbedc38fee6be0c23"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, c []byte) {
		pt, err := fx.unwrapKWP(c)
		if err != nil {
			if !errors.Is(err, keyring.ErrInvalidCiphertext) && !errors.Is(err, keyring.ErrValidation) {
				t.Fatalf("%x: %v", c, err)
			}
			return
		}
		if back := kwpWrap(t, fx.aesKey, pt); !bytes.Equal(back, c) {
			t.Fatalf("unwrap of %x does not wrap back: %x", c, back)
		}
	})
}
