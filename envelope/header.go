package envelope

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
)

// header is the in-memory state of a file's header: the immutable
// preamble, the keys derived from the DEK, and the current valid slot.
type header struct {
	pre      Preamble
	preBytes []byte // the 32 encoded preamble bytes: AAD of the DEK wrap, prefix of every slot MAC
	keys     *fileKeys
	slot     Slot // the current valid slot
	pos      int  // where slot lives: 0 = slot A, 1 = slot B
	// otherClean records that the slot position other than pos holds no
	// wrap of the DEK but one under slot.KeyRef (it is empty, or it
	// authenticated under the same key reference). A rewrap overwrites a
	// position that is not clean, so that no slot keeps a wrap under a
	// retired master key version (FORMAT.md §5.3).
	otherClean bool
	// skippedGen is the generation of the newest slot when it failed
	// authentication and an older one, of a lower generation, was used
	// instead (FORMAT.md, "Reading the header"): damage, or a torn header
	// write. 0 otherwise (generations start at 1).
	skippedGen uint64
}

// slotOffset is the file offset of slot position pos (0 = A, 1 = B).
func slotOffset(pos int) int64 { return PreambleSize + int64(pos)*SlotSize }

// slotName names a slot position in errors.
func slotName(pos int) string { return string(rune('A' + pos)) }

// newHeaderFlags makes the header of a new file: random file ID and DEK,
// the DEK wrapped by w with the preamble as AAD, slot A at generation 1 and
// slot B empty (FORMAT.md, "Writing, step by step"), with extra preamble
// flags (FlagStream for a stream, FORMAT.md §16). The file's slot kind, and
// so its preamble version, is w's (KindOf, FORMAT.md §3). It returns the
// header and its HeaderSize encoded bytes.
func newHeaderFlags(ctx context.Context, w KeyWrapper, chunkSize int, rand io.Reader, extra uint16) (*header, []byte, error) {
	h, err := makeHeader(ctx, w, chunkSize, rand, extra)
	if err != nil {
		return nil, nil, err
	}
	raw := make([]byte, HeaderSize)
	if err := h.encodeNew(raw); err != nil {
		h.keys.wipe()
		return nil, nil, err
	}
	return h, raw, nil
}

// makeHeader is newHeaderFlags without the encoding: the header of a new
// file, its slot A not yet sealed (encodeNew seals it).
func makeHeader(ctx context.Context, w KeyWrapper, chunkSize int, rand io.Reader, extra uint16) (*header, error) {
	pre := Preamble{ChunkSize: uint32(chunkSize), SlotSize: SlotSize}
	pre.Version, pre.Flags = preambleFor(KindOf(w))
	pre.Flags |= extra
	if _, err := io.ReadFull(rand, pre.FileID[:]); err != nil {
		return nil, fmt.Errorf("envelope: reading random file ID: %w", err)
	}
	dek := make([]byte, DEKSize)
	if _, err := io.ReadFull(rand, dek); err != nil {
		return nil, fmt.Errorf("envelope: reading random data key: %w", err)
	}
	preBytes := pre.appendTo(make([]byte, 0, PreambleSize))
	ref, wrapped, err := w.WrapKey(ctx, dek, preBytes)
	if err != nil {
		clear(dek)
		return nil, fmt.Errorf("envelope: wrapping data key: %w", err)
	}
	keys, err := deriveKeys(dek, pre.FileID)
	if err != nil {
		clear(dek)
		return nil, err
	}
	h := &header{pre: pre, preBytes: preBytes, keys: keys, otherClean: true} // slot B stays empty
	h.slot = Slot{Generation: 1, KeyRef: ref, WrappedKey: wrapped}
	return h, nil
}

// encodeNew writes h, the header of a file that has none on disk yet, into
// dst (HeaderSize bytes): the preamble, h's slot as slot A (its generation
// and committed size as they are) and an empty slot B (FORMAT.md §2).
func (h *header) encodeNew(dst []byte) error {
	copy(dst, h.preBytes)
	clear(dst[slotOffset(1):HeaderSize])
	return h.sealSlot(&h.slot, dst[slotOffset(0):slotOffset(1)])
}

// sealSlot encodes s into dst (SlotSize bytes) and sets its MAC. A key
// reference that the file's slot kind cannot hold (a version on a KMS
// file, none on a local one: a wrapper of the other kind) is refused, so
// that no header mixes kinds.
func (h *header) sealSlot(s *Slot, dst []byte) error {
	clear(dst)
	if (h.pre.Kind() == KindLocal) != (s.KeyRef.Version != 0) {
		return fmt.Errorf("%w: key reference %v cannot be stored in a %v-kind header", ErrBadHeader, s.KeyRef, h.pre.Kind())
	}
	if err := s.encodeBodyKind(h.pre.Kind(), dst); err != nil {
		return err
	}
	s.MAC = h.keys.slotMAC(h.preBytes, dst)
	copy(dst[slotMACOffset:], s.MAC[:])
	return nil
}

// commit writes next as the new current slot: generation current+1, in the
// position that does NOT hold the current slot, so that a torn write can
// only damage the slot that is not in use (FORMAT.md §4.5). It does not
// sync. On error the in-memory state is unchanged, except that the
// position written to no longer counts as clean.
func (h *header) commit(w io.WriterAt, next Slot) error {
	if h.slot.Generation == math.MaxUint64 {
		return fmt.Errorf("%w: slot generation exhausted", ErrBadHeader)
	}
	next.Generation = h.slot.Generation + 1
	pos := 1 - h.pos
	if err := h.writeSlot(w, &next, pos); err != nil {
		return err
	}
	// The old current slot becomes the other one; it wraps the DEK under
	// the new key reference only if the reference did not change.
	h.otherClean = h.slot.KeyRef == next.KeyRef
	h.slot, h.pos, h.skippedGen = next, pos, 0
	return nil
}

// mirror copies the current slot into the other position with generation
// current-1, so that both slots wrap the DEK under the current key
// reference (FORMAT.md §4.5, §5.3). The lower generation keeps the current
// slot current: a torn mirror write never outranks it, so a crash cannot
// make a reader try a slot naming the old key version first. The caller
// has synced the current slot, and the current generation is at least 2
// (mirror follows a commit).
func (h *header) mirror(w io.WriterAt) error {
	if h.slot.Generation < 2 {
		return fmt.Errorf("%w: no generation below %d to mirror into", ErrBadHeader, h.slot.Generation)
	}
	s := h.slot
	s.Generation--
	if err := h.writeSlot(w, &s, 1-h.pos); err != nil {
		return err
	}
	h.otherClean = true
	return nil
}

// writeSlot seals s and writes it at position pos. A failed write marks
// the other position unclean: a torn write may have left anything there.
func (h *header) writeSlot(w io.WriterAt, s *Slot, pos int) error {
	raw := make([]byte, SlotSize)
	if err := h.sealSlot(s, raw); err != nil {
		return err
	}
	if _, err := w.WriteAt(raw, slotOffset(pos)); err != nil {
		h.otherClean = false
		return fmt.Errorf("envelope: writing header slot %s: %w", slotName(pos), err)
	}
	return nil
}

// cleanOther reports whether b, the raw slot at the position that is not
// current, can hold no wrap of the DEK but one under the current key
// reference: it is empty, or it authenticates and names that reference.
// A slot under another reference, or one that does not authenticate (a
// torn write may keep an old wrapped DEK intact), is not clean.
func (h *header) cleanOther(b []byte) bool {
	if isZero(b) {
		return true
	}
	s, err := ParseSlotKind(h.pre.Kind(), b)
	return err == nil && s.KeyRef == h.slot.KeyRef && h.keys.verifySlotMAC(h.preBytes, b)
}

// loadHeader reads and authenticates the header of a ciphertext file of
// size bytes (size > 0).
func loadHeader(ctx context.Context, r io.ReaderAt, size int64, u KeyUnwrapper) (*header, error) {
	if size < HeaderSize {
		return nil, fmt.Errorf("%w: %d-byte file is shorter than the %d-byte header", ErrTruncated, size, HeaderSize)
	}
	raw := make([]byte, HeaderSize)
	if n, err := r.ReadAt(raw, 0); n < HeaderSize {
		if err == nil || errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: header cut short at %d bytes", ErrTruncated, n)
		}
		return nil, fmt.Errorf("envelope: reading header: %w", err)
	}
	return parseHeader(ctx, raw, u)
}

// candidate is a structurally valid, non-empty slot that may be current.
type candidate struct {
	pos  int
	slot Slot
	raw  []byte
}

// parseHeader implements FORMAT.md, "Reading the header": validate the
// preamble, then try non-empty slots by descending generation until one
// unwraps and passes its MAC.
func parseHeader(ctx context.Context, raw []byte, u KeyUnwrapper) (*header, error) {
	pre, err := ParsePreamble(raw[:PreambleSize])
	if err != nil {
		return nil, err
	}
	return parseSlots(ctx, pre, raw, u)
}

// parseSlots is parseHeader after the preamble pre (raw[:PreambleSize])
// was validated.
func parseSlots(ctx context.Context, pre Preamble, raw []byte, u KeyUnwrapper) (*header, error) {
	if err := checkKind(pre.Kind(), u); err != nil {
		return nil, err
	}
	cands, err := slotCandidates(pre.Kind(), raw)
	if err != nil {
		return nil, err
	}
	for i, c := range cands {
		h, err := tryCandidate(ctx, pre, raw[:PreambleSize], c, u)
		if err != nil {
			return nil, err
		}
		if h != nil {
			other := 1 - h.pos
			h.otherClean = h.cleanOther(raw[slotOffset(other):slotOffset(other+1)])
			if i > 0 && cands[0].slot.Generation > h.slot.Generation {
				h.skippedGen = cands[0].slot.Generation
			}
			return h, h.checkSlot()
		}
	}
	return nil, fmt.Errorf("%w: none of %d header slots authenticates", ErrUnauthenticated, len(cands))
}

// slotCandidates parses both slots and orders the usable ones, highest
// generation first. A slot that does not parse is skipped like an empty
// one: it may be a torn write (FORMAT.md, "Reading the header").
func slotCandidates(kind SlotKind, raw []byte) ([]candidate, error) {
	var cands []candidate
	var parseErr error
	for pos := range 2 {
		b := raw[slotOffset(pos):slotOffset(pos+1)]
		if isZero(b) {
			continue
		}
		s, err := ParseSlotKind(kind, b)
		if err != nil {
			parseErr = fmt.Errorf("slot %s: %w", slotName(pos), err)
			continue
		}
		cands = append(cands, candidate{pos: pos, slot: s, raw: b})
	}
	if len(cands) == 2 && cands[1].slot.Generation > cands[0].slot.Generation {
		cands[0], cands[1] = cands[1], cands[0]
	}
	if len(cands) == 0 && parseErr != nil {
		return nil, fmt.Errorf("envelope: no usable header slot: %w", parseErr)
	}
	if len(cands) == 0 {
		return nil, fmt.Errorf("%w: both header slots are empty", ErrBadHeader)
	}
	return cands, nil
}

// tryCandidate unwraps c's DEK and checks c's MAC. It returns (nil, nil)
// if c fails authentication, so the caller tries the next slot, and an
// error only for failures that another slot cannot fix (key disabled, not
// found, KMS unreachable).
func tryCandidate(ctx context.Context, pre Preamble, preBytes []byte, c candidate, u KeyUnwrapper) (*header, error) {
	dek, err := u.UnwrapKey(ctx, c.slot.KeyRef, c.slot.WrappedKey, preBytes)
	if errors.Is(err, ErrUnauthenticated) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("envelope: unwrapping data key of slot %s under %v: %w", slotName(c.pos), c.slot.KeyRef, err)
	}
	keys, err := deriveKeys(dek, pre.FileID)
	if err != nil {
		clear(dek)
		return nil, err
	}
	if !keys.verifySlotMAC(preBytes, c.raw) {
		keys.wipe()
		return nil, nil
	}
	return &header{pre: pre, preBytes: append([]byte(nil), preBytes...), keys: keys, slot: c.slot, pos: c.pos}, nil
}

// checkSlot applies the rules that need an authenticated slot: unknown
// critical extensions are rejected (FORMAT.md, "Extensions") and the
// committed size must be a valid int64. On error it wipes the keys.
func (h *header) checkSlot() error {
	for _, e := range h.slot.Extensions {
		if e.Critical() {
			h.keys.wipe()
			return fmt.Errorf("%w: type %#04x in slot %s", ErrCriticalExtension, e.Type, slotName(h.pos))
		}
	}
	if h.slot.CommittedSize > math.MaxInt64 {
		h.keys.wipe()
		return fmt.Errorf("%w: committed size %d out of range", ErrBadHeader, h.slot.CommittedSize)
	}
	return nil
}

// committed returns the slot's size floor.
func (h *header) committed() int64 { return int64(h.slot.CommittedSize) }

// public returns the exported view of h, without keys.
func (h *header) public() *Header {
	exts := make([]Extension, len(h.slot.Extensions))
	copy(exts, h.slot.Extensions)
	return &Header{
		Preamble:      h.pre,
		FileID:        h.pre.FileID,
		ChunkSize:     int(h.pre.ChunkSize),
		KeyRef:        h.slot.KeyRef,
		Generation:    h.slot.Generation,
		CommittedSize: h.committed(),
		Slot:          h.pos,
		Kind:          h.pre.Kind(),
		Extensions:    exts,
	}
}

// Header is the authenticated content of a file's header, for fsck and
// tools. It holds no key material.
type Header struct {
	Preamble      Preamble
	FileID        [FileIDSize]byte
	ChunkSize     int
	KeyRef        KeyRef   // the master key version that wraps the DEK
	Generation    uint64   // the current slot's generation
	CommittedSize int64    // the size floor (FORMAT.md, "Truncation detection")
	Slot          int      // position of the current slot: 0 = A, 1 = B
	Kind          SlotKind // what the slots hold: a keyring wrap or a KMS blob (FORMAT.md §4.6)
	Extensions    []Extension
}
