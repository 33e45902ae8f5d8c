package keyspec_test

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kmsfs/kmsfs/keyring"
	"github.com/kmsfs/kmsfs/keyring/keyspec"
)

// opensslWrap wraps material for import the way AWS's documentation shows
// with OpenSSL: RSAES_OAEP_* is `openssl pkeyutl -encrypt` with OAEP;
// RSA_AES_KEY_WRAP_* is `openssl enc -id-aes256-wrap-pad` under a fresh
// AES-256 key, which `openssl pkeyutl` wraps with OAEP, the two
// concatenated (RSA part first).
func opensslWrap(t *testing.T, wrappingPub []byte, alg string, material []byte) []byte {
	t.Helper()
	openssl := lookOpenSSL(t)
	dir := t.TempDir()
	path := func(name string) string { return filepath.Join(dir, name) }
	write := func(name string, b []byte) {
		if err := os.WriteFile(path(name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	run := func(args ...string) {
		if out, err := exec.Command(openssl, args...).CombinedOutput(); err != nil {
			t.Fatalf("openssl %v: %v\n%s", args, err, out)
		}
	}
	read := func(name string) []byte {
		b, err := os.ReadFile(path(name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	write("WrappingPublicKey.bin", wrappingPub)
	write("PlaintextKeyMaterial.bin", material)
	md := "sha256"
	if alg == keyspec.WrapRSAESOAEPSHA1 || alg == keyspec.WrapRSAAESKeyWrapSHA1 {
		md = "sha1"
	}
	oaep := func(in, out string) {
		run("pkeyutl", "-encrypt", "-in", path(in), "-out", path(out), "-inkey", path("WrappingPublicKey.bin"),
			"-keyform", "DER", "-pubin", "-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:"+md,
			"-pkeyopt", "rsa_mgf1_md:"+md)
	}
	if alg == keyspec.WrapRSAESOAEPSHA1 || alg == keyspec.WrapRSAESOAEPSHA256 {
		oaep("PlaintextKeyMaterial.bin", "EncryptedKeyMaterial.bin")
		return read("EncryptedKeyMaterial.bin")
	}
	aesKey := make([]byte, 32)
	if _, err := rand.Read(aesKey); err != nil {
		t.Fatal(err)
	}
	write("aes-key.bin", aesKey)
	run("enc", "-id-aes256-wrap-pad", "-K", hex.EncodeToString(aesKey), "-iv", "A65959A6",
		"-in", path("PlaintextKeyMaterial.bin"), "-out", path("key-material-wrapped.bin"))
	oaep("aes-key.bin", "aes-key-wrapped.bin")
	return append(read("aes-key-wrapped.bin"), read("key-material-wrapped.bin")...)
}

func TestImportOpenSSL(t *testing.T) {
	wk, err := keyspec.NewWrappingKey(keyspec.RSA3072, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	wpub, err := wk.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ spec, alg string }{
		{"SYMMETRIC_DEFAULT", keyspec.WrapRSAESOAEPSHA256},
		{"SYMMETRIC_DEFAULT", keyspec.WrapRSAESOAEPSHA1},
		{"HMAC_384", keyspec.WrapRSAESOAEPSHA256},
		{"SYMMETRIC_DEFAULT", keyspec.WrapRSAAESKeyWrapSHA256},
		{"ECC_NIST_P256", keyspec.WrapRSAAESKeyWrapSHA256},
		{"ECC_NIST_P521", keyspec.WrapRSAAESKeyWrapSHA1},
		{"ECC_NIST_EDWARDS25519", keyspec.WrapRSAAESKeyWrapSHA256},
		{"RSA_2048", keyspec.WrapRSAAESKeyWrapSHA256},
	}
	for _, tt := range tests {
		t.Run(tt.spec+"/"+tt.alg, func(t *testing.T) {
			if err := keyspec.CheckImportParameters(tt.spec, tt.alg, keyspec.RSA3072); err != nil {
				t.Fatal(err)
			}
			orig := generate(t, tt.spec)
			material, err := orig.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			enc := opensslWrap(t, wpub, tt.alg, material)
			got, err := keyspec.UnwrapImportedMaterial(wk, tt.alg, enc)
			if err != nil {
				t.Fatalf("UnwrapImportedMaterial: %v", err)
			}
			if !bytes.Equal(got, material) {
				t.Fatal("unwrapped material differs from the original")
			}
			imported, err := keyspec.ParseMaterial(tt.spec, got)
			if err != nil {
				t.Fatalf("ParseMaterial: %v", err)
			}
			if !imported.Equal(orig) || imported.Equal(generate(t, tt.spec)) {
				t.Fatal("Equal does not tell the same material from another")
			}
			for _, i := range []int{0, len(enc) - 1} {
				if _, err := keyspec.UnwrapImportedMaterial(wk, tt.alg, flip(enc, i)); !errors.Is(err, keyring.ErrInvalidCiphertext) {
					t.Errorf("byte %d flipped: %v, want ErrInvalidCiphertext", i, err)
				}
			}
		})
	}
}

// TestImportHMACOutside imports HMAC material wrapped by openssl, then
// checks that the imported key's MAC equals the one `openssl mac` makes
// with the original material outside kmsfs.
func TestImportHMACOutside(t *testing.T) {
	openssl := lookOpenSSL(t)
	wk, err := keyspec.NewWrappingKey(keyspec.RSA2048, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	wpub, _ := wk.PublicKey()
	material := bytes.Repeat([]byte{7}, 40) // HMAC_256 takes 32 to 64 bytes
	got, err := keyspec.UnwrapImportedMaterial(wk, keyspec.WrapRSAAESKeyWrapSHA1, opensslWrap(t, wpub, keyspec.WrapRSAAESKeyWrapSHA1, material))
	if err != nil {
		t.Fatal(err)
	}
	m, err := keyspec.ParseMaterial("HMAC_256", got)
	if err != nil {
		t.Fatal(err)
	}
	msg := filepath.Join(t.TempDir(), "msg")
	if err := os.WriteFile(msg, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(openssl, "mac", "-digest", "SHA256", "-macopt", "hexkey:"+hex.EncodeToString(material), "-in", msg, "HMAC").Output()
	if err != nil {
		t.Fatalf("openssl mac: %v", err)
	}
	mac, err := m.GenerateMac(keyspec.HMACSHA256, []byte("hello"))
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.TrimSpace(string(out)); !strings.EqualFold(hex.EncodeToString(mac), want) {
		t.Fatalf("MAC %x, openssl says %s", mac, want)
	}
}

func TestImportParameters(t *testing.T) {
	tests := []struct {
		spec, alg, wspec string
		want             error
	}{
		{"RSA_4096", keyspec.WrapRSAAESKeyWrapSHA1, "RSA_4096", nil},
		{"RSA_4096", keyspec.WrapRSAESOAEPSHA256, "RSA_4096", keyring.ErrValidation},
		{"SYMMETRIC_DEFAULT", "RSAES_PKCS1_V1_5", "RSA_2048", keyring.ErrUnsupported},
		{"SYMMETRIC_DEFAULT", "AES_GCM", "RSA_2048", keyring.ErrValidation},
		{"SYMMETRIC_DEFAULT", keyspec.WrapRSAESOAEPSHA1, "RSA_1024", keyring.ErrValidation},
		{"SM2", keyspec.WrapRSAESOAEPSHA1, "RSA_2048", keyring.ErrUnsupported},
	}
	for _, tt := range tests {
		err := keyspec.CheckImportParameters(tt.spec, tt.alg, tt.wspec)
		if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
			t.Errorf("CheckImportParameters(%s, %s, %s) = %v, want %v", tt.spec, tt.alg, tt.wspec, err, tt.want)
		}
	}
	if _, err := keyspec.NewWrappingKey("ECC_NIST_P256", rand.Reader); !errors.Is(err, keyring.ErrValidation) {
		t.Errorf("NewWrappingKey(ECC_NIST_P256): %v", err)
	}
	wk, _ := keyspec.NewWrappingKey(keyspec.RSA2048, rand.Reader)
	for name, enc := range map[string][]byte{"empty": nil, "too long": make([]byte, 6145)} {
		if _, err := keyspec.UnwrapImportedMaterial(wk, keyspec.WrapRSAESOAEPSHA256, enc); !errors.Is(err, keyring.ErrValidation) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := keyspec.UnwrapImportedMaterial(wk, keyspec.WrapRSAAESKeyWrapSHA256, make([]byte, 256)); !errors.Is(err, keyring.ErrInvalidCiphertext) {
		t.Errorf("RSA part only: %v", err)
	}
}

func TestParseMaterial(t *testing.T) {
	p256, _ := generate(t, "ECC_NIST_P256").Bytes()
	p384, _ := generate(t, "ECC_NIST_P384").Bytes()
	ed, _ := generate(t, "ECC_NIST_EDWARDS25519").Bytes()
	r2048, _ := generate(t, "RSA_2048").Bytes()
	k1, _ := generate(t, "ECC_SECG_P256K1").Bytes()
	tests := []struct {
		spec string
		b    []byte
		want error
	}{
		{"SYMMETRIC_DEFAULT", make([]byte, 32), nil},
		{"SYMMETRIC_DEFAULT", make([]byte, 16), keyspec.ErrIncorrectKeyMaterial},
		{"SYMMETRIC_DEFAULT", make([]byte, 33), keyspec.ErrIncorrectKeyMaterial},
		{"HMAC_224", make([]byte, 28), nil},
		{"HMAC_224", make([]byte, 27), keyspec.ErrIncorrectKeyMaterial},
		{"HMAC_224", make([]byte, 64), nil},
		{"HMAC_224", make([]byte, 65), keyspec.ErrIncorrectKeyMaterial},
		{"HMAC_256", make([]byte, 31), keyspec.ErrIncorrectKeyMaterial},
		{"HMAC_384", make([]byte, 48), nil},
		{"HMAC_384", make([]byte, 128), nil},
		{"HMAC_512", make([]byte, 63), keyspec.ErrIncorrectKeyMaterial},
		{"HMAC_512", make([]byte, 129), keyspec.ErrIncorrectKeyMaterial},
		{"ECC_NIST_P256", p256, nil},
		{"ECC_NIST_P256", p384, keyspec.ErrIncorrectKeyMaterial},
		{"ECC_NIST_P256", ed, keyspec.ErrIncorrectKeyMaterial},
		{"ECC_NIST_EDWARDS25519", ed, nil},
		{"RSA_2048", r2048, nil},
		{"RSA_3072", r2048, keyspec.ErrIncorrectKeyMaterial},
		{"RSA_2048", p256, keyspec.ErrIncorrectKeyMaterial},
		{"RSA_2048", []byte("garbage"), keyspec.ErrIncorrectKeyMaterial},
		{"ECC_SECG_P256K1", k1, nil},
		{"ECC_SECG_P256K1", p256, keyspec.ErrIncorrectKeyMaterial},
		{"ECC_SECG_P256K1", k1[:len(k1)-1], keyspec.ErrIncorrectKeyMaterial},
		{"ECC_NIST_P256", k1, keyspec.ErrIncorrectKeyMaterial},
		{"SM2", p256, keyring.ErrUnsupported},
		{"AES_256", make([]byte, 32), keyring.ErrValidation},
	}
	for i, tt := range tests {
		m, err := keyspec.ParseMaterial(tt.spec, tt.b)
		if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
			t.Errorf("%d: ParseMaterial(%s, %d bytes) = %v, want %v", i, tt.spec, len(tt.b), err, tt.want)
			continue
		}
		if err == nil {
			if b, err := m.Bytes(); err != nil || !bytes.Equal(b, tt.b) {
				t.Errorf("%d: Bytes() does not round-trip (%v)", i, err)
			}
		}
	}
}

func TestZero(t *testing.T) {
	for _, spec := range []string{"HMAC_256", "ECC_NIST_EDWARDS25519", "ECC_NIST_P256", "RSA_2048", "ECC_SECG_P256K1"} {
		m := generate(t, spec)
		m.Zero()
		if _, err := m.Bytes(); !errors.Is(err, keyring.ErrInternal) {
			t.Errorf("%s: Bytes after Zero: %v", spec, err)
		}
		if _, err := m.Sign(rand.Reader, keyspec.ECDSASHA256, "RAW", []byte("x")); err == nil {
			t.Errorf("%s: Sign after Zero succeeded", spec)
		}
	}
	b := make([]byte, 32)
	b[0] = 1
	m, _ := keyspec.ParseMaterial("SYMMETRIC_DEFAULT", b)
	if b[0] != 1 {
		t.Fatal("ParseMaterial changed its input")
	}
	m.Zero()
}
