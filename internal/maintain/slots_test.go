package maintain_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"testing"

	"github.com/kmsfs/kmsfs/envelope"
	"github.com/kmsfs/kmsfs/internal/maintain"
)

// twoSlotFile writes a file whose header has both slots in use (a second
// write commits a new size floor into the other slot) and returns its
// path, its plaintext and the current slot's position.
func twoSlotFile(t *testing.T, k *kms, dir, rel string) (string, []byte, int) {
	t.Helper()
	data := content(7, 3*testChunk+100)
	p := writeFile(t, k.keys(), dir, rel, data[:testChunk])
	b, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	f, err := envelope.Open(context.Background(), b, k.keys(), testChunk)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(data[testChunk:], testChunk); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	h, err := envelope.ReadHeader(context.Background(), b, k.keys())
	if err != nil {
		t.Fatal(err)
	}
	raw := make([]byte, envelope.HeaderSize)
	if _, err := b.ReadAt(raw, 0); err != nil {
		t.Fatal(err)
	}
	other := 1 - h.Slot
	if bytes.Equal(raw[slotAt(other):slotAt(other)+envelope.SlotSize], make([]byte, envelope.SlotSize)) {
		t.Fatal("the second write left one slot empty; the test needs two")
	}
	return p, data, h.Slot
}

func slotAt(pos int) int64 { return int64(envelope.PreambleSize + pos*envelope.SlotSize) }

// TestCheckerSlots (issue 12 item 10): a damaged newest slot, which
// readers skip silently, and a damaged older slot are both reported; with
// repair enabled both slots are rewritten from the one that opens, the
// next check is clean and the contents are intact; nothing else changes.
func TestCheckerSlots(t *testing.T) {
	k := newKMS(t)
	for _, tc := range []struct {
		name    string
		current bool // damage the current slot, else the other
		want    error
	}{
		{"newest slot fails", true, maintain.ErrCurrentSlotFailed},
		{"older slot fails", false, maintain.ErrMirrorSlotDamaged},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			p, data, cur := twoSlotFile(t, k, dir, "f")
			writeFile(t, k.keys(), dir, "healthy", content(3, 2*testChunk))
			pos := cur
			if !tc.current {
				pos = 1 - cur
			}
			flipBytes(t, p, slotAt(pos)+envelope.SlotSize-5) // inside the MAC
			want := tc.want
			for _, repair := range []bool{false, true, false} {
				c, err := maintain.NewChecker(dir, k.keys(), testChunk, false)
				if err != nil {
					t.Fatal(err)
				}
				if repair {
					c.EnableRepair(k.keysFor())
				}
				s, err := maintain.Run(context.Background(), dir, c.Task(), maintain.Options{})
				c.Close()
				if err != nil {
					t.Fatal(err)
				}
				switch {
				case repair:
					got := c.Repaired()
					if s.Failed != 0 || s.Changed != 1 || len(got) != 1 || got[0].Path != "f" || !errors.Is(got[0].Err, tc.want) {
						t.Fatalf("repair run: %+v, repaired %v", *s, got)
					}
				case want != nil:
					if s.Failed != 1 || s.Failures[0].Path != "f" || !errors.Is(s.Failures[0].Err, want) {
						t.Fatalf("check: %+v, want f: %v", *s, want)
					}
					want = nil // the next runs follow the repair
				default:
					if s.Failed != 0 || s.Current != 2 {
						t.Fatalf("check after repair: %+v", *s)
					}
				}
			}
			if got := readFile(t, k.keys(), p); !bytes.Equal(got, data) {
				t.Errorf("contents after repair: %d bytes, want %d", len(got), len(data))
			}
		})
	}
}

// TestCheckerSlotsOneSlot: a file written once has one slot and an empty
// one; that is not damage.
func TestCheckerSlotsOneSlot(t *testing.T) {
	k := newKMS(t)
	dir := t.TempDir()
	writeFile(t, k.keys(), dir, "once", content(1, 10))
	c, err := maintain.NewChecker(dir, k.keys(), testChunk, true)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.CheckFile(context.Background(), "once", new(maintain.Meter)); err != nil {
		t.Fatal(err)
	}
}
