package maintain

import (
	"errors"
	"fmt"
	"io"

	"github.com/kmsfs/kmsfs/envelope"
)

// SlotRefs is what a header says about its key versions without any key:
// the key reference of each slot that parses, the newest first.
type SlotRefs struct {
	// Newest is the reference of the parseable slot with the highest
	// generation: the current slot unless that slot is torn
	// (FORMAT.md, "Reading the header"), which only the MAC can tell.
	Newest envelope.KeyRef
	// All lists every parseable slot's reference, Newest first.
	All []envelope.KeyRef
}

// errNoSlot reports a header without a parseable slot.
var errNoSlot = fmt.Errorf("%w: no parseable header slot", envelope.ErrBadHeader)

// HeaderKeyRefs reads the header of the ciphertext file in r structurally
// (envelope.ParsePreamble and ParseSlot), without unwrapping anything: it
// costs one 544-byte read and no keyring call. Which slot is current needs
// the DEK (the slot MAC), so callers that must be exact confirm with
// envelope.ReadHeader; this is the cheap filter in front of it. An empty
// file fails with envelope.ErrNoHeader, a shorter one than the header with
// envelope.ErrTruncated.
func HeaderKeyRefs(r io.ReaderAt) (SlotRefs, error) {
	raw := make([]byte, envelope.HeaderSize)
	n, err := r.ReadAt(raw, 0)
	switch {
	case n == 0 && (err == nil || errors.Is(err, io.EOF)):
		return SlotRefs{}, envelope.ErrNoHeader
	case n < envelope.HeaderSize && (err == nil || errors.Is(err, io.EOF)):
		return SlotRefs{}, fmt.Errorf("%w: %d-byte file is shorter than the %d-byte header", envelope.ErrTruncated, n, envelope.HeaderSize)
	case n < envelope.HeaderSize:
		return SlotRefs{}, fmt.Errorf("maintain: reading header: %w", err)
	}
	return parseSlotRefs(raw)
}

// parseSlotRefs implements HeaderKeyRefs on the raw header bytes.
func parseSlotRefs(raw []byte) (SlotRefs, error) {
	if _, err := envelope.ParsePreamble(raw[:envelope.PreambleSize]); err != nil {
		return SlotRefs{}, err
	}
	var slots []envelope.Slot
	for pos := range 2 {
		off := envelope.PreambleSize + pos*envelope.SlotSize
		b := raw[off : off+envelope.SlotSize]
		if isZero(b) {
			continue
		}
		if s, err := envelope.ParseSlot(b); err == nil {
			slots = append(slots, s)
		}
	}
	if len(slots) == 0 {
		return SlotRefs{}, errNoSlot
	}
	if len(slots) == 2 && slots[1].Generation > slots[0].Generation {
		slots[0], slots[1] = slots[1], slots[0]
	}
	refs := SlotRefs{Newest: slots[0].KeyRef}
	for _, s := range slots {
		refs.All = append(refs.All, s.KeyRef)
	}
	return refs, nil
}

func isZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// Names reports whether any slot's reference is to the key id.
func (s SlotRefs) Names(id [envelope.KeyIDSize]byte) bool {
	for _, r := range s.All {
		if r.KeyID == id {
			return true
		}
	}
	return false
}
