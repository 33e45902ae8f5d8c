package envelope_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"

	"github.com/kmsfs/kmsfs/envelope"
)

// streamVectorDir holds the stream vectors (FORMAT.md §16.4): the file
// format of FORMAT.md §12, read with NewStreamReader.
const streamVectorDir = "../testdata/vectors/stream"

// streamVectors generates the stream vectors deterministically.
func streamVectors(t *testing.T) []*vector {
	const c = envelope.MinChunkSize
	seal := func(name, comment string, size int, marked bool) *vector {
		kms := newKMS(t, 1)
		kms.SetRand(newDetRand("kms " + name))
		plain := pattern(size, name)
		var buf bytes.Buffer
		newW := envelope.NewStreamWriterWith
		if !marked {
			newW = envelope.NewWriterWith
		}
		w, err := newW(bg, &buf, kms, c, newDetRand("stream "+name))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(plain); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		return &vector{name: name, expect: expSuccess, comment: comment, chunkSize: c, versions: []uint32{1}, plain: plain, ct: buf.Bytes()}
	}
	base := seal("stream2-three-chunks", "stream format 2: 2C+500 bytes, chunk 2 final", 2*c+500, true)
	exact := seal("stream2-two-full-chunks", "stream format 2: exactly 2C bytes, chunk 1 final and full", 2*c, true)
	cutAt := func(v *vector, name string, n int, comment string) *vector {
		return v.derive(name, expTrunc, comment, func(ct []byte) []byte { return ct[:n] })
	}
	stored := c + envelope.ChunkOverhead
	return []*vector{
		base, exact,
		seal("stream2-empty", "stream format 2: empty plaintext, one empty final chunk (572 bytes)", 0, true),
		seal("stream1-legacy", "stream format 1 (NewWriter, piped: floor 0): readable, without truncation protection", c+1, false),
		cutAt(base, "stream2-cut-at-chunk-boundary", envelope.HeaderSize+2*stored, "three-chunks cut after chunk 1, which is not final"),
		cutAt(exact, "stream2-full-cut-at-chunk-boundary", envelope.HeaderSize+stored, "two-full-chunks cut after chunk 0"),
		cutAt(base, "stream2-cut-mid-chunk", envelope.HeaderSize+stored+100, "three-chunks cut 100 bytes into chunk 1"),
		cutAt(base, "stream2-header-only", envelope.HeaderSize, "three-chunks cut to its header"),
		cutAt(base, "stream2-zero-bytes", 0, "three-chunks cut to nothing"),
		base.derive("stream2-extended", expAuth, "three-chunks followed by a copy of its final chunk",
			func(ct []byte) []byte { return append(ct, ct[envelope.HeaderSize+2*stored:]...) }),
	}
}

func TestStreamVectorsReproducible(t *testing.T) {
	checkReproducible(t, streamVectorDir, "stream vector", streamVectors(t))
}

// TestStreamVectors checks every committed stream vector with
// NewStreamReader (FORMAT.md §16.4).
func TestStreamVectors(t *testing.T) {
	want := map[string]error{expHeader: envelope.ErrBadHeader, expAuth: envelope.ErrUnauthenticated, expTrunc: envelope.ErrTruncated}
	for name, data := range readStreamVectors(t) {
		t.Run(name, func(t *testing.T) {
			pv, err := parseVector(data)
			if err != nil {
				t.Fatal(err)
			}
			got, legacy, err := openStream(pv.kms(t), pv.ct)
			exp := pv.fields["expect"]
			if exp != expSuccess {
				if !errors.Is(err, want[exp]) {
					t.Errorf("%v, want %v", err, want[exp])
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if sum := fmt.Sprintf("%x", sha256.Sum256(got)); sum != pv.fields["plaintext-sha256"] || strconv.Itoa(len(got)) != pv.fields["plaintext size"] {
				t.Errorf("plaintext: %d bytes, sha256 %s", len(got), sum)
			}
			if wantLegacy := strings.HasPrefix(name, "stream1-"); legacy != wantLegacy {
				t.Errorf("Legacy() = %v", legacy)
			}
		})
	}
}

func readStreamVectors(t testing.TB) map[string][]byte {
	t.Helper()
	return readVectorDir(t, streamVectorDir)
}

// FuzzStreamReader feeds arbitrary bytes to NewStreamReader, seeded with
// the stream vectors: nothing may panic, and an input that reads to
// io.EOF must be a complete stream (format 2) or a file.
func FuzzStreamReader(f *testing.F) {
	n := 0
	for _, data := range readStreamVectors(f) {
		pv, err := parseVector(data)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(pv.ct)
		n++
	}
	if n == 0 {
		f.Fatal("no fuzz seeds from " + streamVectorDir)
	}
	kms := newKMS(f, 1)
	f.Fuzz(func(t *testing.T, ct []byte) {
		r, err := envelope.NewStreamReader(bg, bytes.NewReader(ct), kms)
		if err != nil {
			return
		}
		defer r.Close()
		if _, err := io.Copy(io.Discard, io.LimitReader(r, 1<<20)); err == nil && !r.Legacy() && len(ct) < envelope.HeaderSize+envelope.ChunkOverhead {
			t.Fatalf("a %d-byte format 2 stream read without error", len(ct))
		}
	})
}
