package names

import (
	"crypto/cipher"
	"crypto/rand"
	"strings"
)

// Symlink and xattr-value sealing, NAMES.md §10 and §12:
//
//	sealed = nonce (12, random) || AES-256-GCM ciphertext || tag (16)
const (
	nonceSize = 12
	tagSize   = 16
	// SealOverhead is what sealing adds to a target or xattr value.
	SealOverhead = nonceSize + tagSize

	// MaxTargetLen is the longest symlink target whose encoding fits in a
	// Linux symlink (4095 bytes): base64url(3043+28 bytes) is 4095 bytes.
	MaxTargetLen = (maxSymlinkLen*6)/8 - SealOverhead
	// maxSymlinkLen is PATH_MAX minus the terminating NUL.
	maxSymlinkLen = 4095
)

// symlinkAD is the additional data of every symlink target; it binds the
// format version. Targets are not bound to the link (see NAMES.md §13).
var symlinkAD = []byte(labelSymlink)

// EncryptTarget seals a symlink target and encodes it as unpadded base64url,
// ready to be stored as the target of the on-disk symlink. Each call uses a
// fresh random nonce, so equal targets encrypt differently.
func (c *Codec) EncryptTarget(target string) (string, error) {
	if c.symlink == nil {
		return "", ErrClosed
	}
	if len(target) > MaxTargetLen {
		return "", ErrTooLong
	}
	return b64.EncodeToString(seal(c.symlink, []byte(target), symlinkAD)), nil
}

// DecryptTarget reverses EncryptTarget. Any malformed or modified input
// fails with [ErrUnauthenticated].
func (c *Codec) DecryptTarget(enc string) (string, error) {
	if c.symlink == nil {
		return "", ErrClosed
	}
	if len(enc) > maxSymlinkLen || strings.ContainsAny(enc, "\r\n") {
		return "", ErrUnauthenticated
	}
	sealed, err := b64.DecodeString(enc)
	if err != nil {
		return "", ErrUnauthenticated
	}
	plain, err := open(c.symlink, sealed, symlinkAD)
	if err != nil {
		return "", err
	}
	return string(plain), nil
}

// seal returns nonce || Seal(nonce, plain, ad) with a fresh random nonce.
func seal(aead cipher.AEAD, plain, ad []byte) []byte {
	out := make([]byte, nonceSize, nonceSize+len(plain)+tagSize)
	_, _ = rand.Read(out) // never fails (crypto/rand.Read doc)
	return aead.Seal(out, out[:nonceSize], plain, ad)
}

// open reverses seal. It returns only ErrUnauthenticated on failure.
func open(aead cipher.AEAD, sealed, ad []byte) ([]byte, error) {
	if len(sealed) < SealOverhead {
		return nil, ErrUnauthenticated
	}
	plain, err := aead.Open(nil, sealed[:nonceSize], sealed[nonceSize:], ad)
	if err != nil {
		return nil, ErrUnauthenticated
	}
	return plain, nil
}
