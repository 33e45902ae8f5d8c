package local

import (
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"fmt"

	"github.com/google/uuid"
	"github.com/kmsfs/kmsfs/keyring"
)

// Blob format, version 1 (Encrypt and GenerateDataKey ciphertexts). All
// integers are big-endian.
//
//	offset  size  field
//	0       1     blob version, 0x01
//	1       16    key ID (the key's UUID, raw bytes)
//	17      4     key version, u32
//	21      32    salt, random per blob
//	53      n+16  AES-256-GCM ciphertext || tag of the n-byte plaintext
//
// The GCM key is HKDF-SHA-256(ikm=version key, salt=salt, info="kmsfs v1
// encrypt"), used for this one blob only, so the nonce is 12 zero bytes.
// The AAD is the 53 header bytes || the canonical encryption context
// ([keyring.EncodeContext]). Decryption failures of any cause are reported only
// as [keyring.ErrInvalidCiphertext].
const (
	BlobVersion    = 0x01
	BlobHeaderSize = 1 + 16 + 4 + blobSaltSize // 53
	BlobOverhead   = BlobHeaderSize + gcmTagSize
	blobSaltSize   = 32
	// MaxPlaintext is the largest Encrypt plaintext, as AWS KMS.
	MaxPlaintext = 4096
	// Data keys from GenerateDataKey, as AWS KMS.
	maxDataKeyBytes = 1024
)

// HKDF info strings (FORMAT.md quotes them).
const (
	infoEncrypt = "kmsfs v1 encrypt"
	infoDEKWrap = "kmsfs v1 dek wrap"
)

// BlobHeader is the cleartext part of a ciphertext blob.
type BlobHeader struct {
	KeyID      [16]byte // the key's UUID
	KeyVersion uint32
	Salt       [blobSaltSize]byte
	Ciphertext []byte // GCM ciphertext || tag; aliases the parsed input
}

// KeyUUID returns the key ID in canonical UUID form.
func (h BlobHeader) KeyUUID() string { return uuid.UUID(h.KeyID).String() }

// ParseBlob splits a version-1 blob into its header fields and ciphertext.
// It only checks the layout (version byte and length bounds), never
// authenticity, and never panics. Failures wrap [keyring.ErrInvalidCiphertext].
func ParseBlob(b []byte) (BlobHeader, error) {
	var h BlobHeader
	switch {
	case len(b) < BlobOverhead+1 || len(b) > BlobOverhead+MaxPlaintext:
		return h, fmt.Errorf("%w: blob length %d", keyring.ErrInvalidCiphertext, len(b))
	case b[0] != BlobVersion:
		return h, fmt.Errorf("%w: unknown blob version", keyring.ErrInvalidCiphertext)
	}
	copy(h.KeyID[:], b[1:17])
	h.KeyVersion = binary.BigEndian.Uint32(b[17:21])
	copy(h.Salt[:], b[21:BlobHeaderSize])
	h.Ciphertext = b[BlobHeaderSize:]
	return h, nil
}

// appendHeader appends the 53 header bytes.
func (h BlobHeader) appendHeader(b []byte) []byte {
	b = append(b, BlobVersion)
	b = append(b, h.KeyID[:]...)
	b = binary.BigEndian.AppendUint32(b, h.KeyVersion)
	return append(b, h.Salt[:]...)
}

// Marshal returns the blob: header || ciphertext. It is the inverse of
// [ParseBlob].
func (h BlobHeader) Marshal() []byte {
	b := make([]byte, 0, BlobHeaderSize+len(h.Ciphertext))
	return append(h.appendHeader(b), h.Ciphertext...)
}

// oneTimeKey derives the per-blob or per-wrap AES-256 key. The caller
// zeroes it.
func oneTimeKey(versionKey, salt []byte, info string) []byte {
	key, err := hkdf.Key(sha256.New, versionKey, salt, info, 32)
	if err != nil {
		panic("keyring: internal error: " + err.Error())
	}
	return key
}

// sealOnce seals plaintext with a one-time key derived from versionKey.
func sealOnce(dst, versionKey, salt []byte, info string, plaintext, aad []byte) []byte {
	key := oneTimeKey(versionKey, salt, info)
	defer zero(key)
	aead, err := newGCM(key)
	if err != nil {
		panic("keyring: internal error: " + err.Error())
	}
	var nonce [gcmNonceSize]byte // all zero: the key seals one message only
	return aead.Seal(dst, nonce[:], plaintext, aad)
}

// openOnce reverses sealOnce; ok is false on any authentication failure.
func openOnce(versionKey, salt []byte, info string, ciphertext, aad []byte) (plaintext []byte, ok bool) {
	key := oneTimeKey(versionKey, salt, info)
	defer zero(key)
	aead, err := newGCM(key)
	if err != nil {
		panic("keyring: internal error: " + err.Error())
	}
	var nonce [gcmNonceSize]byte
	pt, err := aead.Open(nil, nonce[:], ciphertext, aad)
	return pt, err == nil
}

// sealBlob encrypts plaintext under one key version into a new blob.
func sealBlob(h BlobHeader, versionKey, plaintext, context []byte) []byte {
	out := make([]byte, 0, BlobOverhead+len(plaintext))
	out = h.appendHeader(out)
	aad := append(out[:BlobHeaderSize:BlobHeaderSize], context...)
	return sealOnce(out, versionKey, h.Salt[:], infoEncrypt, plaintext, aad)
}

// openBlob decrypts a parsed blob; ok is false on any authentication failure.
func openBlob(h BlobHeader, versionKey, context []byte) ([]byte, bool) {
	aad := h.appendHeader(make([]byte, 0, BlobHeaderSize+len(context)))
	aad = append(aad, context...)
	return openOnce(versionKey, h.Salt[:], infoEncrypt, h.Ciphertext, aad)
}
