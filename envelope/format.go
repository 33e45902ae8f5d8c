package envelope

// On-disk layout (FORMAT.md, "File layout"); all integers big-endian:
//
//	offset   size  field
//	     0     32  preamble: magic "KMSFS\x00" | version u16 | chunk size u32
//	                         | slot size u16 | flags u16 | file ID [16]
//	    32    256  slot A
//	   288    256  slot B
//	   544      …  chunks: nonce [12] | AES-256-GCM ciphertext | tag [16]
//
// A slot: generation u64 | key ID [16] | key version u32 | committed size u64
// | wrapped-DEK length u16 | wrapped DEK | TLV extensions | zero padding
// | MAC [32] over preamble || slot[0:224].

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/bits"
)

// Format constants (FORMAT.md, "Conventions" and "File layout").
const (
	Version          = 1                             // the format version this package writes and reads
	Magic            = "KMSFS\x00"                   // first bytes of every non-empty ciphertext file
	PreambleSize     = 32                            // bytes of the immutable preamble
	SlotSize         = 256                           // bytes of one header slot
	HeaderSize       = PreambleSize + 2*SlotSize     // 544: preamble, slot A, slot B
	FileIDSize       = 16                            // random file ID in the preamble
	MACSize          = 32                            // HMAC-SHA-256 at the end of each slot
	NonceSize        = 12                            // AES-GCM nonce per chunk
	TagSize          = 16                            // AES-GCM tag per chunk
	ChunkOverhead    = NonceSize + TagSize           // 28 bytes per chunk
	DEKSize          = 32                            // AES-256 data key
	DefaultChunkSize = 64 << 10                      // plaintext bytes per chunk unless configured
	MinChunkSize     = 4 << 10                       // smallest allowed chunk size
	MaxChunkSize     = 1 << 20                       // largest allowed chunk size
	slotMACOffset    = SlotSize - MACSize            // 224: the MAC covers slot[0:224]
	slotFixedSize    = 8 + KeyIDSize + 4 + 8 + 2     // 38: fields before the wrapped DEK
	MaxWrappedKeyLen = slotMACOffset - slotFixedSize // 186: wrapped DEK must fit before the MAC
	criticalBit      = 0x8000                        // extension types with this bit must be understood
	extTerminator    = 0                             // extension type that ends the list
	extHeaderSize    = 4                             // type u16 | length u16
	magicSize        = len(Magic)                    // 6
	preambleIDOffset = magicSize + 2 + 4 + 2 + 2     // 16: file ID follows the fixed fields
)

// Preamble is the first 32 bytes of a ciphertext file. It is written once
// when the header is created and never rewritten (FORMAT.md, "Preamble").
type Preamble struct {
	Version   uint16
	ChunkSize uint32
	SlotSize  uint16
	Flags     uint16
	FileID    [FileIDSize]byte
}

// ParsePreamble decodes and validates a preamble; b must be exactly
// PreambleSize bytes. Errors match ErrBadHeader and, where one applies, a
// more specific sentinel (ErrBadMagic, ErrUnsupportedVersion,
// ErrBadChunkSize, ErrUnsupportedFlags).
func ParsePreamble(b []byte) (Preamble, error) {
	if len(b) != PreambleSize {
		return Preamble{}, fmt.Errorf("%w: preamble is %d bytes, want %d", ErrBadHeader, len(b), PreambleSize)
	}
	if string(b[:magicSize]) != Magic { // FORMAT.md, "Preamble": MUST reject
		return Preamble{}, ErrBadMagic
	}
	p := Preamble{
		Version:   binary.BigEndian.Uint16(b[6:]),
		ChunkSize: binary.BigEndian.Uint32(b[8:]),
		SlotSize:  binary.BigEndian.Uint16(b[12:]),
		Flags:     binary.BigEndian.Uint16(b[14:]),
	}
	copy(p.FileID[:], b[preambleIDOffset:])
	return p, p.validate()
}

// validate applies the MUST-reject rules of FORMAT.md, "Preamble":
// version 1 with no flags (local slots) or version 2 with FlagKMS (KMS
// slots, FORMAT.md §4.6).
func (p Preamble) validate() error {
	switch {
	case p.Version != Version && p.Version != VersionKMS:
		return fmt.Errorf("%w: %d (want %d or %d)", ErrUnsupportedVersion, p.Version, Version, VersionKMS)
	case p.Version == Version && p.Flags != 0:
		return fmt.Errorf("%w: %#04x", ErrUnsupportedFlags, p.Flags)
	case p.Version == VersionKMS && p.Flags != FlagKMS: // FORMAT.md §3: version 2 carries exactly FlagKMS
		return fmt.Errorf("%w: %#04x in a version %d preamble (want %#04x)", ErrUnsupportedFlags, p.Flags, VersionKMS, FlagKMS)
	case p.SlotSize != SlotSize:
		return fmt.Errorf("%w: slot size %d (want %d)", ErrBadHeader, p.SlotSize, SlotSize)
	}
	return checkChunkSize(int64(p.ChunkSize))
}

// checkChunkSize enforces FORMAT.md, "Preamble": a power of two in
// [MinChunkSize, MaxChunkSize].
func checkChunkSize(c int64) error {
	if c < MinChunkSize || c > MaxChunkSize || bits.OnesCount64(uint64(c)) != 1 {
		return fmt.Errorf("%w: %d", ErrBadChunkSize, c)
	}
	return nil
}

// MarshalBinary encodes p as PreambleSize bytes. It does not validate p, so
// that tests can build invalid preambles; ParsePreamble does.
func (p Preamble) MarshalBinary() ([]byte, error) {
	return p.appendTo(make([]byte, 0, PreambleSize)), nil
}

func (p Preamble) appendTo(b []byte) []byte {
	b = append(b, Magic...)
	b = binary.BigEndian.AppendUint16(b, p.Version)
	b = binary.BigEndian.AppendUint32(b, p.ChunkSize)
	b = binary.BigEndian.AppendUint16(b, p.SlotSize)
	b = binary.BigEndian.AppendUint16(b, p.Flags)
	return append(b, p.FileID[:]...)
}

// Extension is one TLV entry of a header slot (FORMAT.md, "Extensions").
type Extension struct {
	Type  uint16 // bit 0x8000 set: critical, readers that do not know it must reject the header
	Value []byte
}

// Critical reports whether a reader that does not know e.Type must reject
// the slot.
func (e Extension) Critical() bool { return e.Type&criticalBit != 0 }

// Slot is one 256-byte header slot (FORMAT.md, "Header slots"). A slot of
// all zeros is empty; a zero Slot marshals to all zeros.
type Slot struct {
	Generation    uint64 // higher wins; a rewrite uses current+1
	KeyRef        KeyRef // master key and version that wrapped the DEK
	CommittedSize uint64 // the size floor: a lower bound on the plaintext size
	WrappedKey    []byte // opaque to this package, at most MaxWrappedKeyLen bytes
	Extensions    []Extension
	MAC           [MACSize]byte // HMAC-SHA-256(K_hdr, preamble || slot[0:224])
}

// ParseSlot decodes the structure of a slot; b must be exactly SlotSize
// bytes. It does not check the MAC (that needs the data key) and does not
// judge extensions: a reader rejects unknown critical extensions only in a
// slot that has authenticated. Errors match ErrBadHeader.
func ParseSlot(b []byte) (Slot, error) {
	if len(b) != SlotSize {
		return Slot{}, fmt.Errorf("%w: slot is %d bytes, want %d", ErrBadHeader, len(b), SlotSize)
	}
	s := Slot{
		Generation:    binary.BigEndian.Uint64(b[0:]),
		KeyRef:        KeyRef{Version: binary.BigEndian.Uint32(b[24:])},
		CommittedSize: binary.BigEndian.Uint64(b[28:]),
	}
	copy(s.KeyRef.KeyID[:], b[8:24])
	copy(s.MAC[:], b[slotMACOffset:])
	n := int(binary.BigEndian.Uint16(b[36:]))
	if n > MaxWrappedKeyLen {
		return Slot{}, fmt.Errorf("%w: wrapped key length %d exceeds %d", ErrBadHeader, n, MaxWrappedKeyLen)
	}
	if n > 0 {
		s.WrappedKey = bytes.Clone(b[slotFixedSize : slotFixedSize+n])
	}
	exts, err := parseExtensions(b[slotFixedSize+n : slotMACOffset])
	if err != nil {
		return Slot{}, err
	}
	s.Extensions = exts
	return s, nil
}

// parseExtensions decodes the TLV area up to its terminator (type 0, or the
// end of the area) and requires the rest to be zero, so that every slot has
// exactly one encoding (FORMAT.md, "Extensions").
func parseExtensions(b []byte) ([]Extension, error) {
	var exts []Extension
	for len(b) >= 2 {
		typ := binary.BigEndian.Uint16(b)
		if typ == extTerminator {
			break
		}
		if len(b) < extHeaderSize {
			return nil, fmt.Errorf("%w: extension %#04x header cut short", ErrBadHeader, typ)
		}
		n := int(binary.BigEndian.Uint16(b[2:]))
		if extHeaderSize+n > len(b) {
			return nil, fmt.Errorf("%w: extension %#04x length %d overruns slot", ErrBadHeader, typ, n)
		}
		exts = append(exts, Extension{Type: typ, Value: bytes.Clone(b[extHeaderSize : extHeaderSize+n])})
		b = b[extHeaderSize+n:]
	}
	for _, c := range b {
		if c != 0 {
			return nil, fmt.Errorf("%w: non-zero slot padding", ErrBadHeader)
		}
	}
	return exts, nil
}

// MarshalBinary encodes s as SlotSize bytes, with s.MAC as is. It fails
// with ErrBadHeader if the wrapped key and extensions do not fit.
func (s Slot) MarshalBinary() ([]byte, error) {
	b := make([]byte, SlotSize)
	if err := s.encodeBody(b); err != nil {
		return nil, err
	}
	copy(b[slotMACOffset:], s.MAC[:])
	return b, nil
}

// encodeBody writes every field but the MAC into b[0:224] (b is zeroed).
func (s Slot) encodeBody(b []byte) error {
	if len(s.WrappedKey) > MaxWrappedKeyLen {
		return fmt.Errorf("%w: wrapped key of %d bytes, max %d", ErrBadHeader, len(s.WrappedKey), MaxWrappedKeyLen)
	}
	binary.BigEndian.PutUint64(b[0:], s.Generation)
	copy(b[8:], s.KeyRef.KeyID[:])
	binary.BigEndian.PutUint32(b[24:], s.KeyRef.Version)
	binary.BigEndian.PutUint64(b[28:], s.CommittedSize)
	binary.BigEndian.PutUint16(b[36:], uint16(len(s.WrappedKey)))
	off := slotFixedSize + copy(b[slotFixedSize:], s.WrappedKey)
	return encodeExtensions(b[off:slotMACOffset], s.Extensions)
}

// isZero reports whether b is all zero bytes (an empty slot, or a hole).
func isZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
