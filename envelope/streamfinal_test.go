package envelope_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/kmsfs/kmsfs/envelope"
	"github.com/kmsfs/kmsfs/internal/memfile"
)

const storedChunk4k = tc4k + envelope.ChunkOverhead

// sealStream encrypts plain as a stream format 2 ciphertext, written in
// steps of step bytes (all at once if step is 0).
func sealStream(t testing.TB, ks envelope.KeyWrapper, plain []byte, step int) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := envelope.NewStreamWriter(bg, &buf, ks, tc4k)
	if err != nil {
		t.Fatal(err)
	}
	if step == 0 {
		step = max(len(plain), 1)
	}
	for p := plain; len(p) > 0; p = p[min(step, len(p)):] {
		if _, err := w.Write(p[:min(step, len(p))]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// openStream decrypts ct with NewStreamReader, reporting Legacy.
func openStream(ks envelope.KeyUnwrapper, ct []byte) ([]byte, bool, error) {
	r, err := envelope.NewStreamReader(bg, bytes.NewReader(ct), ks)
	if err != nil {
		return nil, false, err
	}
	defer r.Close()
	got, err := io.ReadAll(r)
	return got, r.Legacy(), err
}

func TestStreamFinalRoundTrip(t *testing.T) {
	kms := newKMS(t, 1)
	for _, size := range []int{0, 1, tc4k - 1, tc4k, tc4k + 1, 2*tc4k + 500, 8 * tc4k, 9*tc4k + 1, 16 * tc4k} {
		for _, step := range []int{0, 1000, tc4k, 3*tc4k + 7} {
			t.Run(fmt.Sprintf("len=%d,step=%d", size, step), func(t *testing.T) {
				plain := pattern(size, "final")
				ct := sealStream(t, kms, plain, step)
				chunks := max((size+tc4k-1)/tc4k, 1) // an empty stream has one empty final chunk
				if want := envelope.HeaderSize + size + chunks*envelope.ChunkOverhead; len(ct) != want {
					t.Errorf("ciphertext is %d bytes, want %d", len(ct), want)
				}
				got, legacy, err := openStream(kms, ct)
				if err != nil || legacy {
					t.Fatalf("open: %v, legacy %v", err, legacy)
				}
				mustEqual(t, "plaintext", got, plain)
			})
		}
	}
}

// TestStreamFinalTruncation cuts format 2 streams everywhere a cut can
// fall: to nothing, inside the header, to the header alone, at every
// chunk boundary, and inside every chunk. Every cut must fail with
// ErrTruncated, through both readers.
func TestStreamFinalTruncation(t *testing.T) {
	kms := newKMS(t, 1)
	for _, size := range []int{0, 1, tc4k, 3 * tc4k, 3*tc4k + 100, 9 * tc4k} {
		ct := sealStream(t, kms, pattern(size, "cut"), 0)
		cuts := []int{0, 1, envelope.PreambleSize, envelope.HeaderSize - 1, envelope.HeaderSize}
		for off := envelope.HeaderSize; off < len(ct); off += storedChunk4k {
			cuts = append(cuts, off, off+1, off+envelope.ChunkOverhead-1, off+envelope.ChunkOverhead, off+envelope.ChunkOverhead+1)
			cuts = append(cuts, min(off+storedChunk4k-1, len(ct)-1), min(off+storedChunk4k, len(ct)-1))
		}
		for _, n := range cuts {
			if n >= len(ct) {
				continue
			}
			t.Run(fmt.Sprintf("len=%d,cut=%d", size, n), func(t *testing.T) {
				if _, _, err := openStream(kms, ct[:n]); !errors.Is(err, envelope.ErrTruncated) {
					t.Errorf("NewStreamReader: %v, want ErrTruncated", err)
				}
				if n == 0 {
					return // NewReader reads an empty input as an empty file (FORMAT.md §2.1)
				}
				r, err := envelope.NewReader(bg, bytes.NewReader(ct[:n]), kms)
				if err == nil {
					_, err = io.ReadAll(r)
				}
				if !errors.Is(err, envelope.ErrTruncated) {
					t.Errorf("NewReader: %v, want ErrTruncated", err)
				}
			})
		}
	}
}

// TestStreamFinalTamper: what is not a cut fails too, each with a
// sentinel: an extension by a chunk or by garbage, swapped chunks, a
// flipped byte, and a preamble without FlagStream (the DEK's wrap binds
// the preamble).
func TestStreamFinalTamper(t *testing.T) {
	kms := newKMS(t, 1)
	ct := sealStream(t, kms, pattern(3*tc4k+100, "tamper"), 0)
	chunk := func(i int) []byte {
		return ct[envelope.HeaderSize+i*storedChunk4k : min(envelope.HeaderSize+(i+1)*storedChunk4k, len(ct))]
	}
	swapped := bytes.Clone(ct)
	copy(swapped[envelope.HeaderSize:], chunk(1))
	copy(swapped[envelope.HeaderSize+storedChunk4k:], chunk(0))
	flipped := bytes.Clone(ct)
	flipped[len(ct)-5] ^= 1
	noFlag := bytes.Clone(ct)
	noFlag[15] &^= envelope.FlagStream
	for _, tc := range []struct {
		name string
		ct   []byte
		want error
	}{
		{"extended by the final chunk again", append(bytes.Clone(ct), chunk(3)...), envelope.ErrUnauthenticated},
		{"extended by a middle chunk", append(bytes.Clone(ct), chunk(1)...), envelope.ErrUnauthenticated},
		{"extended by one byte", append(bytes.Clone(ct), 0), envelope.ErrUnauthenticated},
		{"chunks swapped", swapped, envelope.ErrUnauthenticated},
		{"final chunk flipped", flipped, envelope.ErrUnauthenticated},
		{"FlagStream cleared", noFlag, envelope.ErrUnauthenticated},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := openStream(kms, tc.ct); !errors.Is(err, tc.want) {
				t.Errorf("got %v, want %v", err, tc.want)
			}
		})
	}
}

// TestStreamFinalNotAFile: readers of files refuse a format 2 stream
// with a header error instead of misreading its last chunk.
func TestStreamFinalNotAFile(t *testing.T) {
	kms := newKMS(t, 1)
	ct := sealStream(t, kms, pattern(tc4k+1, "notafile"), 0)
	if _, err := envelope.Open(bg, memfile.New(ct), kms, tc4k); !errors.Is(err, envelope.ErrUnsupportedFlags) {
		t.Errorf("Open: %v, want ErrUnsupportedFlags", err)
	}
	if err := envelope.Verify(bg, memfile.New(ct), kms, false); !errors.Is(err, envelope.ErrBadHeader) {
		t.Errorf("Verify: %v, want ErrBadHeader", err)
	}
	if _, err := envelope.ParsePreamble(ct[:envelope.PreambleSize]); !errors.Is(err, envelope.ErrUnsupportedFlags) {
		t.Errorf("ParsePreamble: %v, want ErrUnsupportedFlags", err)
	}
}

// TestStreamFinalLegacy: format 1 streams (NewWriter) stay readable by
// NewStreamReader, which says they are legacy; a header-only one is
// the empty plaintext.
func TestStreamFinalLegacy(t *testing.T) {
	kms := newKMS(t, 1)
	for _, size := range []int{0, 1, 2*tc4k + 7} {
		plain := pattern(size, "legacy")
		var buf bytes.Buffer
		w, err := envelope.NewWriter(bg, &buf, kms, tc4k)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(plain); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		got, legacy, err := openStream(kms, buf.Bytes())
		if err != nil || !legacy {
			t.Fatalf("len=%d: %v, legacy %v", size, err, legacy)
		}
		mustEqual(t, "plaintext", got, plain)
	}
}

// TestStreamFinalAbort: an aborted format 2 stream has no final chunk,
// so it reads as truncated.
func TestStreamFinalAbort(t *testing.T) {
	kms := newKMS(t, 1)
	for _, size := range []int{0, 100, 9 * tc4k} {
		var buf bytes.Buffer
		w, err := envelope.NewStreamWriter(bg, &buf, kms, tc4k)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(pattern(size, "abort")); err != nil {
			t.Fatal(err)
		}
		w.Abort()
		if _, _, err := openStream(kms, buf.Bytes()); !errors.Is(err, envelope.ErrTruncated) {
			t.Errorf("len=%d: aborted stream: %v, want ErrTruncated", size, err)
		}
	}
}

// TestStreamFinalKMS: a stream under a KMS-kind key service has both
// FlagKMS and FlagStream, and round-trips.
func TestStreamFinalKMS(t *testing.T) {
	ks := newTestKMS(t, 184)
	plain := pattern(2*tc4k+3, "kms stream")
	ct := sealStream(t, ks, plain, 0)
	if version := uint16(ct[6])<<8 | uint16(ct[7]); version != envelope.VersionKMS {
		t.Errorf("version %d, want %d", version, envelope.VersionKMS)
	}
	if flags := uint16(ct[14])<<8 | uint16(ct[15]); flags != envelope.FlagKMS|envelope.FlagStream {
		t.Errorf("flags %#04x, want %#04x", flags, envelope.FlagKMS|envelope.FlagStream)
	}
	got, legacy, err := openStream(ks, ct)
	if err != nil || legacy {
		t.Fatalf("open: %v, legacy %v", err, legacy)
	}
	mustEqual(t, "plaintext", got, plain)
	if _, _, err := openStream(ks, ct[:envelope.HeaderSize+storedChunk4k]); !errors.Is(err, envelope.ErrTruncated) {
		t.Errorf("cut KMS stream: %v", err)
	}
}

func BenchmarkStreamFinal(b *testing.B) {
	kms := newKMS(b, 1)
	for _, size := range []int{4 << 10, 64 << 10, 1 << 20} {
		plain := pattern(size, "bench")
		ct := sealStream(b, kms, plain, 0)
		b.Run(fmt.Sprintf("seal/%d", size), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(size))
			for range b.N {
				w, err := envelope.NewStreamWriter(bg, io.Discard, kms, tc4k)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := w.Write(plain); err != nil {
					b.Fatal(err)
				}
				if err := w.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("open/%d", size), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(size))
			for range b.N {
				if _, _, err := openStream(kms, ct); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
