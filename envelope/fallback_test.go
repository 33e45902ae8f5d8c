package envelope_test

import (
	"testing"

	"github.com/kmsfs/kmsfs/envelope"
	"github.com/kmsfs/kmsfs/internal/memfile"
)

// TestSlotFallbackReported damages the current slot of a two-slot file:
// File.SlotFallback names both generations, a healthy file and one whose
// older slot is damaged report nothing, and a write that rewrites the
// header clears the report.
func TestSlotFallbackReported(t *testing.T) {
	kms := newKMS(t, 1)
	ct, _ := sample(t, kms, true)
	h, err := envelope.ReadHeader(bg, memfile.New(ct), kms)
	if err != nil {
		t.Fatal(err)
	}
	cur := envelope.PreambleSize + h.Slot*envelope.SlotSize
	older := envelope.PreambleSize + (1-h.Slot)*envelope.SlotSize
	for name, tc := range map[string]struct {
		ct   []byte
		want bool
	}{
		"healthy":              {ct, false},
		"current MAC flipped":  {flip(ct, cur+envelope.SlotSize-1, 0x04), true},
		"current DEK flipped":  {flip(ct, cur+60, 0x04), true},
		"older MAC flipped":    {flip(ct, older+envelope.SlotSize-1, 0x04), false},
		"older slot zeroed":    {zeroed(ct, older, envelope.SlotSize), false},
		"current slot cleared": {zeroed(ct, cur, envelope.SlotSize), false},
	} {
		t.Run(name, func(t *testing.T) {
			f, err := envelope.Open(bg, memfile.New(tc.ct), kms, tc4k)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			fb, ok := f.SlotFallback()
			if ok != tc.want {
				t.Fatalf("SlotFallback ok = %v, want %v", ok, tc.want)
			}
			if ok && (fb.FailedGeneration != h.Generation || fb.UsedGeneration != h.Generation-1) {
				t.Errorf("SlotFallback = %+v, want failed %d, used %d", fb, h.Generation, h.Generation-1)
			}
		})
	}
	t.Run("cleared by a rewrite", func(t *testing.T) {
		b := memfile.New(flip(ct, cur+envelope.SlotSize-1, 0x04))
		f, err := envelope.Open(bg, b, kms, tc4k)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.WriteAt([]byte("more"), f.Size()); err != nil {
			t.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			t.Fatal(err)
		}
		if fb, ok := f.SlotFallback(); ok {
			t.Errorf("after a header rewrite: SlotFallback = %+v, want none", fb)
		}
	})
}

func zeroed(ct []byte, off, n int) []byte {
	out := append([]byte(nil), ct...)
	clear(out[off : off+n])
	return out
}
