package envelope_test

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/kmsfs/kmsfs/envelope"
	"github.com/kmsfs/kmsfs/internal/memfile"
	"github.com/kmsfs/kmsfs/internal/testkms"
)

// slotFile records every header slot write (the file contents after it)
// and every sync, to replay a rewrap step by step.
type slotFile struct {
	*memfile.File
	ops   []string
	snaps [][]byte // contents after each slot write, in order
}

func (s *slotFile) WriteAt(p []byte, off int64) (int, error) {
	n, err := s.File.WriteAt(p, off)
	if off >= envelope.PreambleSize && off < envelope.HeaderSize {
		s.ops = append(s.ops, fmt.Sprintf("slot %c", 'A'+(off-envelope.PreambleSize)/envelope.SlotSize))
		s.snaps = append(s.snaps, s.File.Bytes())
	}
	return n, err
}

func (s *slotFile) Sync() error { s.ops = append(s.ops, "sync"); return s.File.Sync() }

// rewrapped returns a sample file before and after a completed rewrap from
// master key version 1 to 2, and the recorded slot writes.
func rewrapped(t *testing.T) (kms *testkms.Service, before, after, plain []byte, rec *slotFile) {
	t.Helper()
	kms = newKMS(t, 2)
	kms.SetCurrent(1)
	before, plain = sample(t, kms, true)
	rec = &slotFile{File: memfile.New(before)}
	kms.SetCurrent(2)
	changed, old, nw, err := envelope.RewrapFile(bg, rec, kms, kms, true)
	if err != nil || !changed || old.Version != 1 || nw.Version != 2 {
		t.Fatalf("RewrapFile = %v, %v, %v, %v", changed, old, nw, err)
	}
	return kms, before, rec.Bytes(), plain, rec
}

func slotRange(pos int) (int, int) {
	start := envelope.PreambleSize + pos*envelope.SlotSize
	return start, start + envelope.SlotSize
}

// v1Unwraps reports whether the wrapped DEK in slot pos of ct unwraps
// under master key version 1, whatever the slot claims: what a holder of a
// leaked v1 could do with the file.
func v1Unwraps(t *testing.T, ct []byte, pos int) bool {
	t.Helper()
	start, end := slotRange(pos)
	if isAllZero(ct[start:end]) {
		return false
	}
	s, err := envelope.ParseSlot(ct[start:end])
	if err != nil {
		return false
	}
	onlyV1 := testkms.New(testKeyID, map[uint32][]byte{1: masterKey(1)}, 1)
	ref := envelope.KeyRef{KeyID: testKeyID, Version: 1}
	_, err = onlyV1.UnwrapKey(bg, ref, s.WrappedKey, ct[:envelope.PreambleSize])
	return err == nil
}

func isAllZero(b []byte) bool { return !slices.ContainsFunc(b, func(c byte) bool { return c != 0 }) }

// TestRewrapLeavesNoOldWrap: after a rewrap from v1 to v2, through either
// entry point, neither slot unwraps under v1 and both name v2 (FORMAT.md
// §5.3), so destroying v1 after "rewrap everything" revokes it. A file
// left with a v1 slot by an earlier rewrap is cleaned by rewrapping again.
func TestRewrapLeavesNoOldWrap(t *testing.T) {
	rewrapOnline := func(kms *testkms.Service, b *memfile.File) error {
		f, err := envelope.Open(bg, b, kms, tc4k)
		if err != nil {
			return err
		}
		defer f.Close()
		if changed, err := f.Rewrap(bg, kms); err != nil || !changed {
			return fmt.Errorf("Rewrap = %v, %v", changed, err)
		}
		return nil
	}
	rewrapOffline := func(sync bool) func(*testkms.Service, *memfile.File) error {
		return func(kms *testkms.Service, b *memfile.File) error {
			if changed, _, nw, err := envelope.RewrapFile(bg, b, kms, kms, sync); err != nil || !changed || nw.Version != 2 {
				return fmt.Errorf("RewrapFile = %v, %v, %v", changed, nw, err)
			}
			return nil
		}
	}
	_, before, after, _, _ := rewrapped(t)
	// An earlier rewrap that wrote only the non-current slot: slot B of
	// after (generation 4, v2, current) over before, whose slot A
	// (generation 3) still wraps under v1.
	legacy := bytes.Clone(before)
	start, end := slotRange(1)
	copy(legacy[start:end], after[start:end])
	for _, tc := range []struct {
		name   string
		start  []byte
		rewrap func(*testkms.Service, *memfile.File) error
	}{
		{"File.Rewrap", before, rewrapOnline},
		{"RewrapFile sync", before, rewrapOffline(true)},
		{"RewrapFile nosync", before, rewrapOffline(false)},
		{"File.Rewrap of a stale file", legacy, rewrapOnline},
		{"RewrapFile of a stale file", legacy, rewrapOffline(true)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kms := newKMS(t, 2)
			b := memfile.New(tc.start)
			if err := tc.rewrap(kms, b); err != nil {
				t.Fatal(err)
			}
			ct := b.Bytes()
			for pos := range 2 {
				start, end := slotRange(pos)
				s, err := envelope.ParseSlot(ct[start:end])
				if err != nil || s.KeyRef.Version != 2 {
					t.Errorf("slot %c: %+v, %v; want key version 2", 'A'+pos, s.KeyRef, err)
				}
				if v1Unwraps(t, ct, pos) {
					t.Errorf("slot %c still unwraps under v1", 'A'+pos)
				}
			}
			if changed, _, _, err := envelope.RewrapFile(bg, b, kms, kms, true); err != nil || changed {
				t.Errorf("second RewrapFile = %v, %v; want nothing to do", changed, err)
			}
		})
	}
}

// TestTornSlotWrite simulates a crash in the middle of each slot write of
// a rewrap: the slot being written holds a mix of its old and new bytes
// (cut at every 8 bytes, new prefix or new suffix). The file must open
// with intact data; once the first write was synced, with v2 and without
// needing v1 at all (a torn mirror has the lower generation, so it is
// never tried before the synced slot).
func TestTornSlotWrite(t *testing.T) {
	kms, before, _, plain, rec := rewrapped(t)
	if got := strings.Join(rec.ops, ","); got != "slot B,sync,slot A,sync" {
		t.Fatalf("rewrap wrote %q, want slot B,sync,slot A,sync", got)
	}
	onlyV2 := testkms.New(testKeyID, map[uint32][]byte{2: masterKey(2)}, 2)
	steps := [][]byte{before, rec.snaps[0], rec.snaps[1]}
	for step, pos := range []int{1, 0} {
		old, nw := steps[step], steps[step+1]
		start, end := slotRange(pos)
		if !bytes.Equal(old[:start], nw[:start]) || !bytes.Equal(old[end:], nw[end:]) {
			t.Fatalf("write %d changed bytes outside slot %c", step, 'A'+pos)
		}
		for cut := 0; cut <= envelope.SlotSize; cut += 8 {
			for _, newPrefix := range []bool{true, false} {
				torn := bytes.Clone(old)
				if newPrefix {
					copy(torn[start:start+cut], nw[start:start+cut])
				} else {
					copy(torn[start+cut:end], nw[start+cut:end])
				}
				ks := kms
				if step == 1 {
					ks = onlyV2 // the synced first write holds v2
				}
				f, err := envelope.Open(bg, memfile.New(torn), ks, tc4k)
				if err != nil {
					t.Fatalf("write %d, cut %d (new prefix %v): %v", step, cut, newPrefix, err)
				}
				if v := f.KeyRef().Version; v != 2 && (step == 1 || v != 1) {
					t.Errorf("write %d, cut %d: key version %d", step, cut, v)
				}
				mustEqual(t, "torn slot", readAll(t, f), plain)
				f.Close()
			}
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

// TestRewrapOnline rotates twice through File.Rewrap: both slots are
// written each time, the generation climbs, and an unchanged version
// writes nothing.
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
		// Each rewrap commits the other slot and mirrors it into the old
		// one with the generation below: slots alternate as before.
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

// TestFailedMirrorWrite: if the second slot write of a rewrap fails, the
// new slot is current and the error is returned; a later rewrap to the
// same version overwrites the slot that still holds the old wrap.
func TestFailedMirrorWrite(t *testing.T) {
	kms := newKMS(t, 2)
	kms.SetCurrent(1)
	b := &memfile.File{}
	f, err := envelope.Create(bg, b, kms, tc4k)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt([]byte("data"), 0); err != nil {
		t.Fatal(err)
	}
	slotA, _ := slotRange(0)
	b.FailWrite = func(p []byte, off int64) error {
		if off == int64(slotA) {
			return memfile.ErrInjected
		}
		return nil
	}
	kms.SetCurrent(2)
	if _, err := f.Rewrap(bg, kms); !errors.Is(err, memfile.ErrInjected) {
		t.Fatalf("Rewrap with a failing mirror write: %v", err)
	}
	if f.KeyRef().Version != 2 || !v1Unwraps(t, b.Bytes(), 0) {
		t.Fatalf("after the failed mirror: KeyRef %v, slot A v1 %v", f.KeyRef(), v1Unwraps(t, b.Bytes(), 0))
	}
	b.FailWrite = nil
	if changed, err := f.Rewrap(bg, kms); err != nil || !changed {
		t.Fatalf("retry: %v, %v", changed, err)
	}
	for pos := range 2 {
		if v1Unwraps(t, b.Bytes(), pos) {
			t.Errorf("slot %c still unwraps under v1 after the retry", 'A'+pos)
		}
	}
	if changed, err := f.Rewrap(bg, kms); err != nil || changed {
		t.Errorf("third Rewrap = %v, %v; want nothing to do", changed, err)
	}
}
