package names_test

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/kmsfs/kmsfs/internal/names"
)

// testKey is a fixed name key so that failures reproduce.
func testKey(b byte) []byte {
	return bytes.Repeat([]byte{b}, names.KeySize)
}

// newCodec returns a Codec under testKey(b), closed when the test ends.
func newCodec(t testing.TB, b byte) *names.Codec {
	t.Helper()
	c, err := names.NewCodec(testKey(b))
	if err != nil {
		t.Fatalf("NewCodec: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// testIV returns a fixed, non-zero directory IV.
func testIV(b byte) [names.DirIVSize]byte {
	var iv [names.DirIVSize]byte
	for i := range iv {
		iv[i] = b + byte(i)
	}
	return iv
}

// newRand returns a deterministic generator (math/rand is fine in tests).
func newRand(seed uint64) *rand.Rand {
	var s [32]byte
	s[0] = byte(seed)
	s[1] = byte(seed >> 8)
	return rand.New(rand.NewChaCha8(s))
}

// randomName returns a legal plaintext name of n bytes (1 <= n <= 255):
// bytes 1..255 except '/', never "." or "..", never a marked name.
func randomName(r *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		for b[i] == 0 || b[i] == '/' {
			b[i] = byte(r.UintN(256))
		}
	}
	b[0] = 'a' + byte(r.UintN(26)) // rules out ".", ".." and the marker prefixes
	return string(b)
}

// roundTrip encrypts name in dirIV and decrypts it back through the long
// side file when there is one, failing the test on any error.
func roundTrip(t *testing.T, c *names.Codec, iv [names.DirIVSize]byte, name string) (disk, side string) {
	t.Helper()
	disk, side, err := c.EncryptName(iv, name)
	if err != nil {
		t.Fatalf("EncryptName(len=%d): %v", len(name), err)
	}
	encoded := disk
	if side != "" {
		if encoded, err = names.ParseLongSide(disk, []byte(side)); err != nil {
			t.Fatalf("ParseLongSide: %v", err)
		}
	}
	got, err := c.DecryptName(iv, encoded)
	if err != nil {
		t.Fatalf("DecryptName(len=%d): %v", len(name), err)
	}
	if got != name {
		t.Fatalf("round trip changed the name: got %q, want %q", got, name)
	}
	return disk, side
}
