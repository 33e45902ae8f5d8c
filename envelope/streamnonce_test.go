package envelope_test

import (
	"bytes"
	"testing"

	"github.com/kmsfs/kmsfs/envelope"
)

// TestStreamNoncesInChunkOrder writes a stream of many chunks, which the
// writer seals in parallel on 4 workers, twice from the same deterministic random
// source: the two must be identical, so nonces are drawn in chunk order
// and never concurrently (under -race, a concurrent read of the source
// fails the test; the stream vectors rely on this).
func TestStreamNoncesInChunkOrder(t *testing.T) {
	const c = envelope.MinChunkSize
	plain := pattern(64*c+17, "many chunks")
	write := func() []byte {
		kms := newKMS(t, 1)
		kms.SetRand(newDetRand("kms"))
		var buf bytes.Buffer
		w, err := envelope.NewStreamWriterWorkers(bg, &buf, kms, c, newDetRand("stream"), 4)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(plain); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	if a, b := write(), write(); !bytes.Equal(a, b) {
		t.Fatal("two streams from the same random source differ")
	}
}
