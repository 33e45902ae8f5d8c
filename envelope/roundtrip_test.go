package envelope_test

import (
	"bytes"
	"fmt"
	"io"
	"testing"

	"github.com/kmsfs/kmsfs/envelope"
	"github.com/kmsfs/kmsfs/internal/memfile"
)

// roundTripSizes are the boundary sizes for chunk size c: 0, 1, c-1, c, c+1
// 2c+500 and 7c+3, where off-by-one errors in chunk arithmetic show.
func roundTripSizes(c int) []int {
	return []int{0, 1, c - 1, c, c + 1, 2*c + 500, 7*c + 3}
}

func TestFileRoundTrip(t *testing.T) {
	for _, c := range []int{envelope.MinChunkSize, envelope.DefaultChunkSize} {
		for _, size := range roundTripSizes(c) {
			for _, step := range []int{1 << 10, c - 1, c, 3*c + 7} {
				if size > 3*c && step < 4096 {
					continue // keep the 1-KiB steps to small files
				}
				t.Run(fmt.Sprintf("c=%d,len=%d,step=%d", c, size, step), func(t *testing.T) {
					testFileRoundTrip(t, c, size, step)
				})
			}
		}
	}
}

func testFileRoundTrip(t *testing.T, c, size, step int) {
	kms := newKMS(t, 1)
	b := &memfile.File{}
	f, err := envelope.Create(bg, b, kms, c)
	if err != nil {
		t.Fatal(err)
	}
	want := pattern(size, fmt.Sprint(size))
	for off := 0; off < size; off += step {
		if _, err := f.WriteAt(want[off:min(off+step, size)], int64(off)); err != nil {
			t.Fatalf("WriteAt(%d): %v", off, err)
		}
	}
	mustEqual(t, "before close", readAll(t, f), want)
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if got, want := int64(len(b.Bytes())), envelope.CiphertextSize(int64(size), c); got != want && size > 0 {
		t.Errorf("ciphertext size %d, want %d", got, want)
	}
	g, err := envelope.Open(bg, b, kms, envelope.DefaultChunkSize)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if g.ChunkSize() != c {
		t.Errorf("reopened chunk size %d, want %d (header wins)", g.ChunkSize(), c)
	}
	mustEqual(t, "after reopen", readAll(t, g), want)
	if err := envelope.Verify(bg, b, kms, false); err != nil {
		t.Errorf("Verify: %v", err)
	}
}

func TestStreamRoundTrip(t *testing.T) {
	for _, c := range []int{envelope.MinChunkSize, envelope.DefaultChunkSize} {
		for _, size := range roundTripSizes(c) {
			for _, step := range []int{1, 1000, c, 10 * c} {
				if step == 1 && size > 2*c {
					continue
				}
				t.Run(fmt.Sprintf("c=%d,len=%d,step=%d", c, size, step), func(t *testing.T) {
					testStreamRoundTrip(t, c, size, step)
				})
			}
		}
	}
}

func testStreamRoundTrip(t *testing.T, c, size, step int) {
	kms := newKMS(t, 1)
	var ct bytes.Buffer // not an io.WriterAt: floor stays 0
	w, err := envelope.NewWriter(bg, &ct, kms, c)
	if err != nil {
		t.Fatal(err)
	}
	want := pattern(size, "stream")
	for off := 0; off < size; off += step {
		if n, err := w.Write(want[off:min(off+step, size)]); err != nil || n != min(step, size-off) {
			t.Fatalf("Write at %d = %d, %v", off, n, err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got, want := int64(ct.Len()), max(envelope.CiphertextSize(int64(size), c), envelope.HeaderSize); got != want {
		t.Errorf("ciphertext size %d, want %d", got, want)
	}
	r, err := envelope.NewReader(bg, bytes.NewReader(ct.Bytes()), kms)
	if err != nil {
		t.Fatal(err)
	}
	got, err := readStep(r, step)
	if err != nil {
		t.Fatal(err)
	}
	mustEqual(t, "stream", got, want)
	f, err := envelope.Open(bg, memfile.New(ct.Bytes()), kms, c)
	if err != nil {
		t.Fatal(err)
	}
	mustEqual(t, "File view of stream", readAll(t, f), want)
}

// readStep reads r to EOF in reads of step bytes.
func readStep(r io.Reader, step int) ([]byte, error) {
	var out []byte
	buf := make([]byte, step)
	for {
		n, err := r.Read(buf)
		out = append(out, buf[:n]...)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
	}
}
