package envelope_test

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"testing"

	"github.com/kmsfs/kmsfs/envelope"
	"github.com/kmsfs/kmsfs/internal/memfile"
	"github.com/kmsfs/kmsfs/internal/testkms"
)

// Verify reads many chunks with one ReadAt and opens them one by one
// (verify.go). The file here has tc4k chunks, so every span is many
// chunks long: these tests put damage, holes and cuts inside spans and
// across their edges, and check the result against reading each chunk
// on its own.

// verifyChunks is the number of chunks of verifySample: several spans of
// any size up to 1 MiB, and a partial last chunk.
const verifyChunks = 301

// verifyHoles are the chunks verifySample leaves as holes: a run across
// the edge of a 64-chunk (256 KiB) span.
var verifyHoles = []int{126, 127, 128, 129, 130, 131}

// verifySample returns a file of verifyChunks chunks, the last one partial,
// with holes at verifyHoles.
func verifySample(t *testing.T, kms *testkms.Service) []byte {
	t.Helper()
	b := &memfile.File{}
	f, err := envelope.Create(bg, b, kms, tc4k)
	if err != nil {
		t.Fatal(err)
	}
	plain := pattern((verifyChunks-1)*tc4k+1000, "verify")
	for i := 0; i < verifyChunks; i++ {
		if slices.Contains(verifyHoles, i) {
			continue
		}
		p := plain[i*tc4k : min((i+1)*tc4k, len(plain))]
		if _, err := f.WriteAt(p, int64(i*tc4k)); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// damagedChunks lists the chunks of ct that fail to read one at a time,
// through File.ReadAt: what Verify must report.
func damagedChunks(t *testing.T, kms *testkms.Service, ct []byte) []int64 {
	t.Helper()
	f, err := envelope.Open(bg, memfile.New(ct), kms, tc4k)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var bad []int64
	buf := make([]byte, tc4k)
	for off := int64(0); off < f.Size(); off += tc4k {
		_, err := f.ReadAt(buf[:min(tc4k, f.Size()-off)], off)
		var ce *envelope.ChunkError
		switch {
		case errors.As(err, &ce):
			bad = append(bad, ce.Index)
		case err != nil && err != io.EOF:
			t.Fatalf("reading chunk %d: %v", off/tc4k, err)
		}
	}
	return bad
}

// verifiedChunks runs Verify on b and returns the chunks it reports, in
// its order. Every error in the result must be a *ChunkError wrapping
// want.
func verifiedChunks(t *testing.T, kms *testkms.Service, b envelope.Backing, want error) []int64 {
	t.Helper()
	err := envelope.Verify(bg, b, kms, false)
	if err == nil {
		return nil
	}
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		t.Fatalf("Verify = %v, want joined chunk errors", err)
	}
	var idx []int64
	for _, e := range joined.Unwrap() {
		var ce *envelope.ChunkError
		if !errors.As(e, &ce) || !errors.Is(e, want) {
			t.Fatalf("Verify: %v is not a chunk error wrapping %v", e, want)
		}
		idx = append(idx, ce.Index)
	}
	return idx
}

func TestVerifySpans(t *testing.T) {
	kms := newKMS(t, 1)
	ct := verifySample(t, kms)
	last := verifyChunks - 1
	for _, tc := range []struct {
		name   string
		chunks []int // chunks to damage
		nonce  bool  // damage the nonce, not the ciphertext
	}{
		{"clean", nil, false},
		{"several in one span", []int{1, 2, 5, 40, 41}, false},
		{"span edges", []int{0, 63, 64, 191, 192, 255, 256}, false},
		{"nonces", []int{3, 64, 200}, true},
		{"last partial chunk", []int{last}, false},
		{"last two", []int{last - 1, last}, true},
		{"in a hole", []int{127, 128}, false},
		{"nonce in a hole", []int{129}, true},
		{"around holes", []int{125, 132}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := ct
			for _, i := range tc.chunks {
				off := chunkOff(i) + envelope.NonceSize + 10
				if tc.nonce {
					off = chunkOff(i) + 3
				}
				bad = flip(bad, off, 0x40)
			}
			want := damagedChunks(t, kms, bad)
			if len(want) != len(tc.chunks) {
				t.Fatalf("reading chunk by chunk finds %v damaged, want %d chunks", want, len(tc.chunks))
			}
			if got := verifiedChunks(t, kms, memfile.New(bad), envelope.ErrUnauthenticated); !slices.Equal(got, want) {
				t.Errorf("Verify reports chunks %v, want %v", got, want)
			}
		})
	}
}

// TestVerifyManyDamaged: with every chunk damaged, Verify lists the
// first-found 100, in order.
func TestVerifyManyDamaged(t *testing.T) {
	kms := newKMS(t, 1)
	bad := verifySample(t, kms)
	for i := range verifyChunks {
		bad = flip(bad, chunkOff(i)+envelope.NonceSize, 1)
	}
	got := verifiedChunks(t, kms, memfile.New(bad), envelope.ErrUnauthenticated)
	if len(got) != 100 || !slices.IsSorted(got) || len(slices.Compact(slices.Clone(got))) != len(got) {
		t.Errorf("Verify reports chunks %v, want 100 distinct chunks in order", got)
	}
}

// cutBacking is a file whose reads stop at cut, as if it were cut behind
// Verify's back after its size was taken: short with io.EOF, or with err
// if set.
type cutBacking struct {
	*memfile.File
	cut int64
	err error
}

func (b *cutBacking) ReadAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) <= b.cut {
		return b.File.ReadAt(p, off)
	}
	n, _ := b.File.ReadAt(p[:max(0, b.cut-off)], off)
	if b.err != nil {
		return n, b.err
	}
	return n, io.EOF
}

// TestVerifyCutBehind: chunks past a cut are reported as truncated, each
// on its own, as without spans; the chunks before it in the same span
// are still checked.
func TestVerifyCutBehind(t *testing.T) {
	kms := newKMS(t, 1)
	ct := verifySample(t, kms)
	ct = flip(ct, chunkOff(280)+envelope.NonceSize, 1)
	for _, cut := range []int{chunkOff(290) + 100, chunkOff(290), len(ct) - 1} {
		t.Run(fmt.Sprintf("cut=%d", cut), func(t *testing.T) {
			b := &cutBacking{File: memfile.New(ct), cut: int64(cut)}
			err := envelope.Verify(bg, b, kms, false)
			joined, ok := err.(interface{ Unwrap() []error })
			if !ok {
				t.Fatalf("Verify = %v, want joined chunk errors", err)
			}
			var idx []int64
			for _, e := range joined.Unwrap() {
				i, want := envelope.ChunkIndex(e), envelope.ErrTruncated
				if i == 280 {
					want = envelope.ErrUnauthenticated
				}
				if !errors.Is(e, want) {
					t.Errorf("Verify: %v, want chunk %d to wrap %v", e, i, want)
				}
				idx = append(idx, i)
			}
			want := []int64{280}
			for i := int64(cut-envelope.HeaderSize) / (tc4k + envelope.ChunkOverhead); i < verifyChunks; i++ {
				want = append(want, i)
			}
			if !slices.Equal(idx, want) {
				t.Errorf("Verify reports chunks %v, want %v", idx, want)
			}
		})
	}
}

// TestVerifyReadError: an I/O error stops Verify and is what it returns,
// whatever damaged chunks it had found.
func TestVerifyReadError(t *testing.T) {
	kms := newKMS(t, 1)
	ct := flip(verifySample(t, kms), chunkOff(2)+envelope.NonceSize, 1)
	errDisk := errors.New("disk on fire")
	b := &cutBacking{File: memfile.New(ct), cut: int64(chunkOff(150) + 7), err: errDisk}
	err := envelope.Verify(bg, b, kms, false)
	if !errors.Is(err, errDisk) || envelope.ChunkIndex(err) != -1 {
		t.Fatalf("Verify = %v, want the read error alone", err)
	}
	// Which chunk's read fails first depends on the workers; each names
	// its own chunk, as a read of one chunk does.
	var i int
	if _, serr := fmt.Sscanf(err.Error(), "envelope: reading chunk %d: disk on fire", &i); serr != nil || i < 150 {
		t.Errorf("Verify = %v, want a failed read of a chunk from 150 on", err)
	}
}
