package envelope_test

import (
	"bytes"
	"io"
	"testing"

	"github.com/kmsfs/kmsfs/envelope"
	"github.com/kmsfs/kmsfs/internal/memfile"
)

// addSeeds adds every piece of every vector that part selects, and fails
// if there are none (a fuzz target whose seed glob matches nothing would silently fuzz
// from nothing).
func addSeeds(f *testing.F, part func(ct []byte) [][]byte) {
	n := 0
	for _, ct := range vectorSeeds(f) {
		for _, p := range part(ct) {
			f.Add(p)
			n++
		}
	}
	if n == 0 {
		f.Fatal("no fuzz seeds from " + vectorDir)
	}
}

func FuzzParsePreamble(f *testing.F) {
	addSeeds(f, func(ct []byte) [][]byte {
		if len(ct) < envelope.PreambleSize {
			return nil
		}
		return [][]byte{ct[:envelope.PreambleSize]}
	})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := envelope.ParsePreamble(b)
		if err != nil {
			return
		}
		out, err := p.MarshalBinary()
		if err != nil || !bytes.Equal(out, b) {
			t.Fatalf("parse -> marshal changed the preamble: %x -> %x (%v)", b, out, err)
		}
	})
}

func FuzzParseSlot(f *testing.F) {
	addSeeds(f, func(ct []byte) [][]byte {
		if len(ct) < envelope.HeaderSize {
			return nil
		}
		return [][]byte{ct[envelope.PreambleSize : envelope.PreambleSize+envelope.SlotSize], ct[envelope.PreambleSize+envelope.SlotSize : envelope.HeaderSize]}
	})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := envelope.ParseSlot(b)
		if err != nil {
			return
		}
		out, err := s.MarshalBinary()
		if err != nil || !bytes.Equal(out, b) {
			t.Fatalf("parse -> marshal changed the slot:\n in %x\nout %x (%v)", b, out, err)
		}
	})
}

// FuzzOpen feeds arbitrary bytes to every reading path as a ciphertext
// file. Nothing may panic; a file that opens must read to its end or fail
// with an error, and a short file (FORMAT.md §8) must take a write at its
// end.
func FuzzOpen(f *testing.F) {
	addSeeds(f, func(ct []byte) [][]byte { return [][]byte{ct} })
	kms := newKMS(f, 2)
	f.Fuzz(func(t *testing.T, ct []byte) {
		if fl, err := envelope.Open(bg, memfile.New(ct), kms, envelope.MinChunkSize); err == nil {
			p := make([]byte, min(fl.Size(), 1<<20))
			fl.ReadAt(p, 0)
			if fl.Truncation() != nil && fl.Size() < 1<<20 {
				fl.WriteAt([]byte("x"), fl.Size())
			}
			fl.Close()
		}
		if r, err := envelope.NewReader(bg, bytes.NewReader(ct), kms); err == nil {
			io.Copy(io.Discard, io.LimitReader(r, 1<<20))
		}
		envelope.Verify(bg, memfile.New(ct), kms, false)
		envelope.ReadHeader(bg, memfile.New(ct), kms)
		envelope.PlaintextSize(int64(len(ct)), envelope.MinChunkSize)
	})
}
