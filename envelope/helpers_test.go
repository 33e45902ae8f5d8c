package envelope_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"io"
	"testing"

	"github.com/kmsfs/kmsfs/envelope"
	"github.com/kmsfs/kmsfs/internal/testkms"
)

// testKeyID is the master key ID of every test KMS.
var testKeyID = [16]byte{0x6b, 0x6d, 0x73, 0x66, 0x73, 0x2d, 0x74, 0x65, 0x73, 0x74, 0x2d, 0x6b, 0x65, 0x79, 0x2d, 0x31}

// masterKey returns the fixed test master key of version v.
func masterKey(v uint32) []byte {
	h := sha256.Sum256(binary.BigEndian.AppendUint32([]byte("kmsfs test master key v"), v))
	return h[:]
}

// newKMS returns a test KMS with versions 1..n, wrapping under version n.
func newKMS(t testing.TB, n uint32) *testkms.Service {
	t.Helper()
	versions := map[uint32][]byte{}
	for v := uint32(1); v <= n; v++ {
		versions[v] = masterKey(v)
	}
	return testkms.New(testKeyID, versions, n)
}

// detRand is a deterministic byte stream: SHA-256(seed || counter) blocks.
// Tests use it where output must be reproducible; it is not a CSPRNG.
type detRand struct {
	seed    string
	counter uint64
	buf     []byte
}

func newDetRand(seed string) *detRand { return &detRand{seed: seed} }

func (r *detRand) Read(p []byte) (int, error) {
	for n := 0; n < len(p); {
		if len(r.buf) == 0 {
			h := sha256.Sum256(binary.BigEndian.AppendUint64([]byte(r.seed), r.counter))
			r.counter++
			r.buf = h[:]
		}
		m := copy(p[n:], r.buf)
		r.buf, n = r.buf[m:], n+m
	}
	return len(p), nil
}

// pattern returns n deterministic, non-repeating plaintext bytes.
func pattern(n int, seed string) []byte {
	b := make([]byte, n)
	if _, err := io.ReadFull(newDetRand("plaintext "+seed), b); err != nil {
		panic(err)
	}
	return b
}

// readAll reads f's whole plaintext through ReadAt.
func readAll(t testing.TB, f *envelope.File) []byte {
	t.Helper()
	out := make([]byte, f.Size())
	n, err := f.ReadAt(out, 0)
	if err != nil && err != io.EOF {
		t.Fatalf("ReadAt(all): %v", err)
	}
	if n != len(out) {
		t.Fatalf("ReadAt(all) = %d bytes, want %d", n, len(out))
	}
	return out
}

// mustEqual fails if got != want, showing sizes and the first difference.
func mustEqual(t testing.TB, what string, got, want []byte) {
	t.Helper()
	if bytes.Equal(got, want) {
		return
	}
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	t.Fatalf("%s: got %d bytes, want %d; first difference at %d", what, len(got), len(want), i)
}

var bg = context.Background()
