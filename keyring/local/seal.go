package local

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/kmsfs/kmsfs/keyring"
)

// Sizes of the root key hierarchy.
const (
	kekSize      = 32 // AES-256 key-encryption key
	rootSaltSize = 32
	materialSize = 32 // a key version's secret
	gcmNonceSize = 12
	gcmTagSize   = 16
	sealedSize   = gcmNonceSize + materialSize + gcmTagSize
)

// Labels bound into the seals under the KEK, so a sealed record of one kind
// can never be opened as another.
const (
	labelVerifierAAD  = "kmsfs v1 verifier"
	labelVerifierText = "kmsfs keyring passphrase verifier v1"
	labelVersionAAD   = "kmsfs v1 key version"
)

// sealKEK seals plaintext under the KEK: nonce (12 random) || GCM(ct||tag).
func sealKEK(rnd io.Reader, kek, plaintext, aad []byte) ([]byte, error) {
	aead, err := newGCM(kek)
	if err != nil {
		return nil, err
	}
	out := make([]byte, gcmNonceSize, gcmNonceSize+len(plaintext)+gcmTagSize)
	if _, err := io.ReadFull(rnd, out); err != nil {
		return nil, fmt.Errorf("%w: reading random nonce: %w", keyring.ErrInternal, err)
	}
	return aead.Seal(out, out[:gcmNonceSize], plaintext, aad), nil
}

// openKEK reverses sealKEK. Its only error is an authentication failure,
// reported as ok=false with no detail.
func openKEK(kek, sealed, aad []byte) (plaintext []byte, ok bool) {
	if len(sealed) < gcmNonceSize+gcmTagSize {
		return nil, false
	}
	aead, err := newGCM(kek)
	if err != nil {
		return nil, false
	}
	pt, err := aead.Open(nil, sealed[:gcmNonceSize], sealed[gcmNonceSize:], aad)
	return pt, err == nil
}

// newGCM returns AES-GCM with the standard 12-byte nonce. A key of the wrong
// length is a programmer error.
func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		panic("keyring: internal error: " + err.Error())
	}
	return cipher.NewGCM(block)
}

// versionAAD binds a sealed version key to its key ID and version number.
func versionAAD(id [16]byte, version uint32) []byte {
	aad := make([]byte, 0, len(labelVersionAAD)+16+4)
	aad = append(aad, labelVersionAAD...)
	aad = append(aad, id[:]...)
	return binary.BigEndian.AppendUint32(aad, version)
}

// zero overwrites a secret buffer (best effort: the garbage collector may
// have copied it earlier).
func zero(b []byte) {
	clear(b)
}
