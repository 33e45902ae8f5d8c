package envelope

import (
	"errors"
	"fmt"
	"io"
)

// SlotRefs is what a header says about its key versions without any key:
// the key reference of each slot that parses, the newest first.
type SlotRefs struct {
	// Newest is the reference of the parseable slot with the highest
	// generation: the current slot unless that slot is torn
	// (FORMAT.md §4.4), which only the MAC can tell.
	Newest KeyRef
	// All lists every parseable slot's reference, Newest first.
	All []KeyRef
	// Unparseable counts the slots that are neither empty (all zero) nor
	// parseable: a torn or damaged slot a rewrite would clean.
	Unparseable int
}

// errNoSlot reports a header without a parseable slot.
var errNoSlot = fmt.Errorf("%w: no parseable header slot", ErrBadHeader)

// ReadSlotRefs reads the header of the ciphertext file in r structurally
// (preamble and slot layout, FORMAT.md §3 and §4.1), without unwrapping
// anything: one HeaderSize read and no key service call. Which slot is
// current needs the DEK (the slot MAC, FORMAT.md §4.3), so callers that
// must be exact confirm with [ReadHeader]; this is the cheap filter in
// front of it. An empty file fails with [ErrNoHeader], a shorter one than
// the header with [ErrTruncated].
func ReadSlotRefs(r io.ReaderAt) (SlotRefs, error) {
	raw := make([]byte, HeaderSize)
	n, err := r.ReadAt(raw, 0)
	switch {
	case n == 0 && (err == nil || errors.Is(err, io.EOF)):
		return SlotRefs{}, ErrNoHeader
	case n < HeaderSize && (err == nil || errors.Is(err, io.EOF)):
		return SlotRefs{}, fmt.Errorf("%w: %d-byte file is shorter than the %d-byte header", ErrTruncated, n, HeaderSize)
	case n < HeaderSize:
		return SlotRefs{}, fmt.Errorf("envelope: reading header: %w", err)
	}
	return parseSlotRefs(raw)
}

func parseSlotRefs(raw []byte) (SlotRefs, error) {
	pre, err := ParsePreamble(raw[:PreambleSize])
	if err != nil {
		return SlotRefs{}, err
	}
	var refs SlotRefs
	var slots []Slot
	for pos := range 2 {
		off := slotOffset(pos)
		b := raw[off : off+SlotSize]
		if isZero(b) {
			continue
		}
		s, err := ParseSlotKind(pre.Kind(), b)
		if err != nil {
			refs.Unparseable++
			continue
		}
		slots = append(slots, s)
	}
	if len(slots) == 0 {
		return SlotRefs{}, errNoSlot
	}
	if len(slots) == 2 && slots[1].Generation > slots[0].Generation {
		slots[0], slots[1] = slots[1], slots[0]
	}
	refs.Newest = slots[0].KeyRef
	for _, s := range slots {
		refs.All = append(refs.All, s.KeyRef)
	}
	return refs, nil
}

// Names reports whether any slot's reference is to the key id.
func (s SlotRefs) Names(id [KeyIDSize]byte) bool {
	for _, r := range s.All {
		if r.KeyID == id {
			return true
		}
	}
	return false
}

// SlotFallback describes a header read from its older slot because the
// newest slot (the higher generation) failed authentication. Readers fall
// back silently (FORMAT.md, "Reading the header"), and the older slot's
// lower size floor can hide a truncation, so callers report it.
type SlotFallback struct {
	FailedGeneration uint64 // the newest slot's generation, which failed
	UsedGeneration   uint64 // the generation of the slot in use
}

// SlotFallback reports whether f's header, as opened, came from the older
// slot because the newest failed authentication. ok is false for a file
// whose newest slot authenticated, an empty file, and once a write or
// rewrap has rewritten the header.
func (f *File) SlotFallback() (fb SlotFallback, ok bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.hdr == nil {
		return SlotFallback{}, false
	}
	f.hmu.Lock()
	defer f.hmu.Unlock()
	if f.hdr.skippedGen == 0 {
		return SlotFallback{}, false
	}
	return SlotFallback{FailedGeneration: f.hdr.skippedGen, UsedGeneration: f.hdr.slot.Generation}, true
}
