package envelope

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
)

// HKDF info strings (FORMAT.md, "Key hierarchy"). They are part of the
// format: changing one is a format version bump.
const (
	infoChunkKey  = "kmsfs v1 chunk key"
	infoHeaderMAC = "kmsfs v1 header mac"
)

// fileKeys are the per-file keys derived from the DEK. The DEK itself is
// kept too, because an online rewrap wraps it again under a new master key
// version.
type fileKeys struct {
	dek    []byte
	macKey []byte      // K_hdr
	aead   cipher.AEAD // AES-256-GCM under K_chunk
}

// deriveKeys derives K_chunk and K_hdr from dek, salted with the file ID:
//
//	K_chunk = HKDF-SHA-256(ikm=DEK, salt=fileID, info="kmsfs v1 chunk key")
//	K_hdr   = HKDF-SHA-256(ikm=DEK, salt=fileID, info="kmsfs v1 header mac")
//
// It takes ownership of dek (zeroed by wipe).
func deriveKeys(dek []byte, fileID [FileIDSize]byte) (*fileKeys, error) {
	if len(dek) != DEKSize {
		return nil, fmt.Errorf("%w: data key is %d bytes, want %d", ErrBadHeader, len(dek), DEKSize)
	}
	kChunk, err := hkdf.Key(sha256.New, dek, fileID[:], infoChunkKey, 32)
	if err != nil {
		return nil, fmt.Errorf("envelope: deriving chunk key: %w", err)
	}
	defer clear(kChunk)
	kHdr, err := hkdf.Key(sha256.New, dek, fileID[:], infoHeaderMAC, 32)
	if err != nil {
		return nil, fmt.Errorf("envelope: deriving header key: %w", err)
	}
	block, err := aes.NewCipher(kChunk)
	if err != nil {
		panic("envelope: internal error: " + err.Error())
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic("envelope: internal error: " + err.Error())
	}
	return &fileKeys{dek: dek, macKey: kHdr, aead: aead}, nil
}

// wipe zeroes the key bytes this package holds. The AES key schedule inside
// aead cannot be reached; that is the best effort Go allows.
func (k *fileKeys) wipe() {
	if k == nil {
		return
	}
	clear(k.dek)
	clear(k.macKey)
	k.aead = nil
}

// slotMAC computes HMAC-SHA-256(K_hdr, preamble || slot[0:224])
// (FORMAT.md, "Slot MAC").
func (k *fileKeys) slotMAC(preamble, slotBody []byte) [MACSize]byte {
	m := hmac.New(sha256.New, k.macKey)
	m.Write(preamble)
	m.Write(slotBody[:slotMACOffset])
	var out [MACSize]byte
	m.Sum(out[:0])
	return out
}

// verifySlotMAC checks a raw slot's MAC in constant time.
func (k *fileKeys) verifySlotMAC(preamble, rawSlot []byte) bool {
	want := k.slotMAC(preamble, rawSlot)
	return hmac.Equal(want[:], rawSlot[slotMACOffset:])
}
