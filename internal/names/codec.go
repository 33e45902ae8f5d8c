package names

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"fmt"

	"github.com/rfjakob/eme"
)

// KeySize is the size of the filesystem name key and of every sub-key.
const KeySize = 32

// HKDF info labels, NAMES.md §2. Each sub-key is
// HKDF-SHA-256(ikm=name key, salt=empty, info=label, L=32).
const (
	labelNameEME    = "kmsfs v1 name eme"
	labelSymlink    = "kmsfs v1 symlink"
	labelXattrName  = "kmsfs v1 xattr name"
	labelXattrValue = "kmsfs v1 xattr value"
	// "kmsfs v1 long name" is reserved (NAMES.md §2): long names hash
	// public ciphertext with plain SHA-256, so v1 derives no key from it.
)

// A Codec encrypts and decrypts names with the sub-keys of one filesystem
// name key. It is safe for concurrent use; Close must not race with other
// calls.
type Codec struct {
	name       *eme.EMECipher // file and directory names, per-directory tweak
	xattrName  *eme.EMECipher // xattr names, fixed zero tweak
	symlink    cipher.AEAD    // symlink targets
	xattrValue cipher.AEAD    // xattr values
}

// NewCodec derives the name sub-keys from nameKey (NAMES.md §2). nameKey
// stays owned by the caller; the derived key bytes are zeroed before
// NewCodec returns, only the AES key schedules remain, inside crypto/aes.
func NewCodec(nameKey []byte) (*Codec, error) {
	if len(nameKey) != KeySize {
		return nil, ErrKeySize
	}
	nameBlock, err := deriveBlock(nameKey, labelNameEME)
	if err != nil {
		return nil, err
	}
	xattrBlock, err := deriveBlock(nameKey, labelXattrName)
	if err != nil {
		return nil, err
	}
	symlink, err := deriveGCM(nameKey, labelSymlink)
	if err != nil {
		return nil, err
	}
	xattrValue, err := deriveGCM(nameKey, labelXattrValue)
	if err != nil {
		return nil, err
	}
	return &Codec{
		name:       eme.New(nameBlock),
		xattrName:  eme.New(xattrBlock),
		symlink:    symlink,
		xattrValue: xattrValue,
	}, nil
}

// Close drops the ciphers so that later calls fail with [ErrClosed]. The
// derived key bytes were already zeroed by NewCodec; the AES key schedules
// are unreachable from here and are left to the garbage collector.
func (c *Codec) Close() {
	*c = Codec{}
}

// deriveBlock returns AES-256 keyed with the sub-key for label.
func deriveBlock(nameKey []byte, label string) (cipher.Block, error) {
	key, err := hkdf.Key(sha256.New, nameKey, nil, label, KeySize)
	if err != nil {
		return nil, fmt.Errorf("names: derive %q: %w", label, err)
	}
	defer clear(key)
	block, err := aes.NewCipher(key)
	if err != nil {
		panic("names: internal error: " + err.Error())
	}
	return block, nil
}

// deriveGCM returns AES-256-GCM (12-byte nonce, 16-byte tag) keyed with the
// sub-key for label.
func deriveGCM(nameKey []byte, label string) (cipher.AEAD, error) {
	block, err := deriveBlock(nameKey, label)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic("names: internal error: " + err.Error())
	}
	return aead, nil
}
