package envelope

// KMS slot layout (FORMAT.md §4.6), used by files whose preamble has
// version 2 and flag FlagKMS; all integers big-endian:
//
//	offset  size  field
//	     0     8  generation u64
//	     8    16  master key ID
//	    24     8  committed size u64
//	    32     2  blob length u16
//	    34     …  KMS CiphertextBlob | TLV extensions | zero padding
//	   224    32  MAC over preamble || slot[0:224]
//
// The KMS keeps key versions inside its blob, so the slot has no key
// version field: a KMS slot's KeyRef.Version is always 0.

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// Constants of the KMS slot kind (FORMAT.md §3 and §4.6).
const (
	VersionKMS       = 2                                // the preamble version of a file whose slots hold KMS blobs
	FlagKMS          = 0x0001                           // the preamble flag a VersionKMS file MUST carry
	kmsSlotFixedSize = 8 + KeyIDSize + 8 + 2            // 34: fields before the blob
	MaxKMSBlobLen    = slotMACOffset - kmsSlotFixedSize // 190: a KMS blob must fit before the MAC
)

// SlotKind says what a file's header slots hold: a key wrapped by a
// kmsfs keyring under a key version ([KindLocal], format version 1), or
// an opaque ciphertext blob of an AWS-KMS-compatible service
// ([KindKMS], format version 2). All slots of one file have the file's
// kind, fixed when its header is created.
type SlotKind uint8

// The slot kinds.
const (
	KindLocal SlotKind = iota // FORMAT.md §4.1: key ID, key version, wrapped DEK of at most 186 bytes
	KindKMS                   // FORMAT.md §4.6: key ID, KMS CiphertextBlob of at most 190 bytes
)

// String names k for logs.
func (k SlotKind) String() string {
	switch k {
	case KindLocal:
		return "local"
	case KindKMS:
		return "kms"
	}
	return "kind(" + itoa(uint32(k)) + ")"
}

// A SlotKinder is a key service that says which slot kind its wraps
// need. A key service that does not implement it is of [KindLocal].
type SlotKinder interface {
	SlotKind() SlotKind
}

// KindOf returns the slot kind of a key service: its SlotKind if it is a
// [SlotKinder], else [KindLocal].
func KindOf(ks any) SlotKind {
	if k, ok := ks.(SlotKinder); ok {
		return k.SlotKind()
	}
	return KindLocal
}

// Kind returns the slot kind of a validated preamble.
func (p Preamble) Kind() SlotKind {
	if p.Version == VersionKMS {
		return KindKMS
	}
	return KindLocal
}

// preambleFor returns the preamble version and flags of a new file of
// kind k (FORMAT.md §3).
func preambleFor(k SlotKind) (version, flags uint16) {
	if k == KindKMS {
		return VersionKMS, FlagKMS
	}
	return Version, 0
}

// ParseSlotKind decodes a slot of kind k; ParseSlotKind(KindLocal, b) is
// ParseSlot(b). Like ParseSlot it checks structure only (FORMAT.md §4.1,
// §4.6). Errors match ErrBadHeader.
func ParseSlotKind(k SlotKind, b []byte) (Slot, error) {
	switch k {
	case KindLocal:
		return ParseSlot(b)
	case KindKMS:
		return parseKMSSlot(b)
	}
	return Slot{}, fmt.Errorf("%w: unknown slot kind %v", ErrBadHeader, k)
}

func parseKMSSlot(b []byte) (Slot, error) {
	if len(b) != SlotSize {
		return Slot{}, fmt.Errorf("%w: slot is %d bytes, want %d", ErrBadHeader, len(b), SlotSize)
	}
	s := Slot{
		Generation:    binary.BigEndian.Uint64(b[0:]),
		CommittedSize: binary.BigEndian.Uint64(b[24:]),
	}
	copy(s.KeyRef.KeyID[:], b[8:24])
	copy(s.MAC[:], b[slotMACOffset:])
	n := int(binary.BigEndian.Uint16(b[32:]))
	// FORMAT.md §4.6: a blob is never empty and never overruns the MAC.
	if n == 0 || n > MaxKMSBlobLen {
		return Slot{}, fmt.Errorf("%w: KMS blob length %d not in [1, %d]", ErrBadHeader, n, MaxKMSBlobLen)
	}
	s.WrappedKey = bytes.Clone(b[kmsSlotFixedSize : kmsSlotFixedSize+n])
	exts, err := parseExtensions(b[kmsSlotFixedSize+n : slotMACOffset])
	if err != nil {
		return Slot{}, err
	}
	s.Extensions = exts
	return s, nil
}

// MarshalKind encodes s as a slot of kind k, with s.MAC as is;
// MarshalKind(KindLocal) is MarshalBinary.
func (s Slot) MarshalKind(k SlotKind) ([]byte, error) {
	b := make([]byte, SlotSize)
	if err := s.encodeBodyKind(k, b); err != nil {
		return nil, err
	}
	copy(b[slotMACOffset:], s.MAC[:])
	return b, nil
}

// encodeBodyKind writes every field but the MAC of a slot of kind k into
// b[0:224] (b is zeroed).
func (s Slot) encodeBodyKind(k SlotKind, b []byte) error {
	switch k {
	case KindLocal:
		return s.encodeBody(b)
	case KindKMS:
		return s.encodeKMSBody(b)
	}
	return fmt.Errorf("%w: unknown slot kind %v", ErrBadHeader, k)
}

func (s Slot) encodeKMSBody(b []byte) error {
	n := len(s.WrappedKey)
	if n == 0 || n > MaxKMSBlobLen {
		return fmt.Errorf("%w: KMS blob of %d bytes, want 1 to %d", ErrBadHeader, n, MaxKMSBlobLen)
	}
	if s.KeyRef.Version != 0 {
		return fmt.Errorf("%w: a KMS slot has no key version (got %d)", ErrBadHeader, s.KeyRef.Version)
	}
	binary.BigEndian.PutUint64(b[0:], s.Generation)
	copy(b[8:], s.KeyRef.KeyID[:])
	binary.BigEndian.PutUint64(b[24:], s.CommittedSize)
	binary.BigEndian.PutUint16(b[32:], uint16(n))
	copy(b[kmsSlotFixedSize:], s.WrappedKey)
	return encodeExtensions(b[kmsSlotFixedSize+n:slotMACOffset], s.Extensions)
}

// encodeExtensions writes exts as a TLV list into area (zeroed), which
// they must fit (FORMAT.md §4.2).
func encodeExtensions(area []byte, exts []Extension) error {
	need := 0
	for _, e := range exts {
		if e.Type == extTerminator || len(e.Value) > 0xffff {
			return fmt.Errorf("%w: unencodable extension %#04x", ErrBadHeader, e.Type)
		}
		need += extHeaderSize + len(e.Value)
	}
	if need > len(area) {
		return fmt.Errorf("%w: extensions need %d bytes, %d left in the slot", ErrBadHeader, need, len(area))
	}
	off := 0
	for _, e := range exts {
		binary.BigEndian.PutUint16(area[off:], e.Type)
		binary.BigEndian.PutUint16(area[off+2:], uint16(len(e.Value)))
		off += extHeaderSize + copy(area[off+extHeaderSize:], e.Value)
	}
	return nil
}

// checkKind reports a key service whose kind is not the file's: a KMS
// file needs a remote KMS key service, a local file a keyring. The data
// is intact; this key service cannot unwrap it.
func checkKind(file SlotKind, ks any) error {
	if got := KindOf(ks); got != file {
		return fmt.Errorf("%w: the file's header holds %v-kind slots, the key service is of kind %v", ErrKeyUnavailable, file, got)
	}
	return nil
}
