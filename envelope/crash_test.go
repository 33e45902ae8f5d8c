package envelope_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/kmsfs/kmsfs/envelope"
	"github.com/kmsfs/kmsfs/envelope/internal/memfile"
	"github.com/kmsfs/kmsfs/envelope/internal/testkms"
)

// rewrapped returns a sample file before and after a completed rewrap from
// master key version 1 to 2, and which slot position the rewrap wrote.
func rewrapped(t *testing.T) (kms *testkms.Service, before, after, plain []byte, pos int) {
	t.Helper()
	kms = newKMS(t, 2)
	kms.SetCurrent(1)
	before, plain = sample(t, kms, true)
	b := memfile.New(before)
	kms.SetCurrent(2)
	changed, old, nw, err := envelope.RewrapFile(bg, b, kms, kms, true)
	if err != nil || !changed || old.Version != 1 || nw.Version != 2 {
		t.Fatalf("RewrapFile = %v, %v, %v, %v", changed, old, nw, err)
	}
	h, err := envelope.ReadHeader(bg, b, kms)
	if err != nil {
		t.Fatal(err)
	}
	return kms, before, b.Bytes(), plain, h.Slot
}

func slotRange(pos int) (int, int) {
	start := envelope.PreambleSize + pos*envelope.SlotSize
	return start, start + envelope.SlotSize
}

// TestTornSlotWrite simulates a crash in the middle of a header rewrite:
// the slot being written holds a mix of its old and new bytes (cut at
// every 8 bytes, new prefix or new suffix). The file must open with either
// the old or the new key version and intact data.
func TestTornSlotWrite(t *testing.T) {
	kms, before, after, plain, pos := rewrapped(t)
	start, end := slotRange(pos)
	if !bytes.Equal(before[:start], after[:start]) || !bytes.Equal(before[end:], after[end:]) {
		t.Fatal("rewrap wrote outside the non-current slot")
	}
	for cut := 0; cut <= envelope.SlotSize; cut += 8 {
		for _, newPrefix := range []bool{true, false} {
			torn := bytes.Clone(before)
			if newPrefix {
				copy(torn[start:start+cut], after[start:start+cut])
			} else {
				copy(torn[start+cut:end], after[start+cut:end])
			}
			f, err := envelope.Open(bg, memfile.New(torn), kms, tc4k)
			if err != nil {
				t.Fatalf("cut %d (new prefix %v): %v", cut, newPrefix, err)
			}
			if v := f.KeyRef().Version; v != 1 && v != 2 {
				t.Errorf("cut %d: key version %d", cut, v)
			}
			mustEqual(t, "torn slot", readAll(t, f), plain)
			f.Close()
		}
	}
}

// TestGarbageSlot writes random garbage, and a well-formed slot with a
// higher generation but a bogus wrapped key, into the non-current slot.
func TestGarbageSlot(t *testing.T) {
	kms := newKMS(t, 1)
	var buf bytes.Buffer
	w, _ := envelope.NewWriter(bg, &buf, kms, tc4k)
	plain := pattern(9000, "garbage")
	w.Write(plain)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	ct := buf.Bytes()
	start, end := slotRange(1) // a new file has slot A current, B empty

	garbage := bytes.Clone(ct)
	copy(garbage[start:end], pattern(envelope.SlotSize, "noise"))

	h, _ := envelope.ReadHeader(bg, memfile.New(ct), kms)
	forged := envelope.Slot{Generation: 99, KeyRef: h.KeyRef, WrappedKey: pattern(80, "wrapped")}
	raw, err := forged.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	wellFormed := bytes.Clone(ct)
	copy(wellFormed[start:end], raw)

	for name, c := range map[string][]byte{"noise": garbage, "well-formed": wellFormed} {
		got, err := decryptFile(kms, c)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		mustEqual(t, name, got, plain)
		if got, err := decryptStream(kms, c); err != nil || !bytes.Equal(got, plain) {
			t.Errorf("%s: stream: %v", name, err)
		}
	}
}

// TestCompletedRewrite: after a rewrap the new key version is used, and
// the old version is no longer needed.
func TestCompletedRewrite(t *testing.T) {
	_, _, after, plain, _ := rewrapped(t)
	onlyV2 := testkms.New(testKeyID, map[uint32][]byte{2: masterKey(2)}, 2)
	f, err := envelope.Open(bg, memfile.New(after), onlyV2, tc4k)
	if err != nil {
		t.Fatalf("open with only v2: %v", err)
	}
	defer f.Close()
	if v := f.KeyRef().Version; v != 2 {
		t.Errorf("key version %d, want 2", v)
	}
	mustEqual(t, "after rewrap", readAll(t, f), plain)
}

// TestRewrapOnline rotates twice through File.Rewrap: slots alternate, the
// generation climbs, and an unchanged version writes nothing.
func TestRewrapOnline(t *testing.T) {
	kms := newKMS(t, 3)
	kms.SetCurrent(1)
	b := &memfile.File{}
	f, err := envelope.Create(bg, b, kms, tc4k)
	if err != nil {
		t.Fatal(err)
	}
	plain := pattern(10000, "online")
	if _, err := f.WriteAt(plain, 0); err != nil {
		t.Fatal(err)
	}
	snapshot := b.Bytes()
	if changed, err := f.Rewrap(bg, kms); err != nil || changed {
		t.Fatalf("Rewrap to the same version = %v, %v", changed, err)
	}
	mustEqual(t, "no-op rewrap", b.Bytes(), snapshot)
	for v := uint32(2); v <= 3; v++ {
		kms.SetCurrent(v)
		syncs := b.Syncs()
		if changed, err := f.Rewrap(bg, kms); err != nil || !changed {
			t.Fatalf("Rewrap to v%d = %v, %v", v, changed, err)
		}
		if b.Syncs() == syncs {
			t.Error("Rewrap did not sync")
		}
		h, err := envelope.ReadHeader(bg, b, kms)
		if err != nil {
			t.Fatal(err)
		}
		if h.KeyRef.Version != v || h.Generation != uint64(v) || h.Slot != int(v-1)%2 {
			t.Errorf("after v%d: %+v", v, h)
		}
	}
	if f.KeyRef().Version != 3 {
		t.Errorf("File.KeyRef = %v", f.KeyRef())
	}
	mustEqual(t, "after rewraps", readAll(t, f), plain)
	f.Close()
}

// TestFailedSlotWrite: a header write that fails leaves the File's header
// state unchanged, and a retry goes to the same slot position.
func TestFailedSlotWrite(t *testing.T) {
	kms := newKMS(t, 2)
	kms.SetCurrent(1)
	b := &memfile.File{}
	f, err := envelope.Create(bg, b, kms, tc4k)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte("data"), 0)
	b.FailWrite = func(p []byte, off int64) error {
		if off < envelope.HeaderSize {
			return memfile.ErrInjected
		}
		return nil
	}
	kms.SetCurrent(2)
	if _, err := f.Rewrap(bg, kms); !errors.Is(err, memfile.ErrInjected) {
		t.Fatalf("Rewrap with failing writes: %v", err)
	}
	if f.KeyRef().Version != 1 {
		t.Errorf("KeyRef changed after a failed write: %v", f.KeyRef())
	}
	b.FailWrite = nil
	if changed, err := f.Rewrap(bg, kms); err != nil || !changed {
		t.Fatalf("retry: %v, %v", changed, err)
	}
	h, _ := envelope.ReadHeader(bg, b, kms)
	if h.Slot != 1 || h.Generation != 2 || h.KeyRef.Version != 2 {
		t.Errorf("after retry: %+v", h)
	}
	f.Close()
}
