package names

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// encryptRaw EME-encrypts already padded bytes, bypassing EncryptName's
// checks, to build ciphertexts that a correct writer never produces.
func encryptRaw(t *testing.T, c *Codec, iv [DirIVSize]byte, padded []byte) string {
	t.Helper()
	if len(padded) == 0 || len(padded)%blockSize != 0 {
		t.Fatalf("encryptRaw: %d bytes is not whole blocks", len(padded))
	}
	return b64.EncodeToString(c.name.Encrypt(iv[:], padded))
}

func TestDecryptNameRejectsIllegalPlaintext(t *testing.T) {
	block := func(s string, padByte byte) []byte {
		b := []byte(s)
		for len(b)%blockSize != 0 || len(b) == len(s) {
			b = append(b, padByte)
		}
		return b
	}
	tests := []struct {
		desc   string
		padded []byte
	}{
		{"empty name", pad(nil)},
		{"dot", pad([]byte("."))},
		{"dotdot", pad([]byte(".."))},
		{"slash", pad([]byte("a/b"))},
		{"nul", pad([]byte("a\x00b"))},
		{"marked", pad([]byte(MarkPrefix + "x"))},
		{"hash-marked", pad([]byte(MarkHashPrefix + "x"))},
		{"pad byte 0", block("abc", 0)},
		{"pad byte 17", append(bytes.Repeat([]byte{17}, 16), bytes.Repeat([]byte{17}, 16)...)},
		{"pad byte 255", bytes.Repeat([]byte{255}, 16)},
		{"pad inconsistent", append([]byte("abcdefghijklm"), 2, 3, 3)},
		{"pad claims 4, has 3", append([]byte("abcdefghijkl"), 9, 4, 4, 4)},
		{"256-byte name", pad(bytes.Repeat([]byte("x"), 256))[:256+16]},
	}
	c, err := NewCodec(bytes.Repeat([]byte{1}, KeySize))
	if err != nil {
		t.Fatal(err)
	}
	var iv [DirIVSize]byte
	iv[0] = 1
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			enc := encryptRaw(t, c, iv, tc.padded)
			if got, err := c.DecryptName(iv, enc); !errors.Is(err, ErrBadName) {
				t.Fatalf("DecryptName = %q, %v; want ErrBadName", got, err)
			}
		})
	}
}

func TestPadUnpad(t *testing.T) {
	for n := range 300 {
		in := []byte(strings.Repeat("q", n))
		p := pad(in)
		if len(p)%blockSize != 0 || len(p)-n < 1 || len(p)-n > blockSize {
			t.Fatalf("pad(len=%d) gave %d bytes", n, len(p))
		}
		out, ok := unpad(p)
		if !ok || !bytes.Equal(out, in) {
			t.Fatalf("unpad(pad(len=%d)) = %d bytes, %v", n, len(out), ok)
		}
	}
	for _, bad := range [][]byte{nil, {1}, make([]byte, 15), make([]byte, 16)} {
		if _, ok := unpad(bad); ok {
			t.Errorf("unpad(%x) accepted", bad)
		}
	}
}
