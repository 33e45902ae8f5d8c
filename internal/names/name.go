package names

import (
	"crypto/sha256"
	"encoding/base64"
	"strings"
)

// Name limits, NAMES.md §4 and §6.
const (
	// MaxNameLen is the longest plaintext name in bytes (NAME_MAX).
	MaxNameLen = 255
	// MaxShortNameLen is the longest plaintext name whose encoding fits in
	// one on-disk name; longer names use a long name and a side file.
	MaxShortNameLen = 175
	// DirIVSize is the size of a directory IV (the EME tweak).
	DirIVSize = 16

	blockSize = 16
	// maxPadded is the padded length of a MaxNameLen-byte name.
	maxPadded = (MaxNameLen/blockSize + 1) * blockSize
)

// b64 is unpadded base64url (RFC 4648 §5). Strict rejects non-zero trailing
// bits; decodeName also rejects CR/LF, which the decoder would skip.
var b64 = base64.RawURLEncoding.Strict()

// EncryptName returns the on-disk name of name in the directory whose IV is
// dirIV (NAMES.md §4). If the encoding is longer than [MaxNameLen] bytes,
// diskName is a long name ([IsLong]) and side is the content the caller must
// write to [LongSideFile](diskName) before creating the entry; otherwise side
// is "".
func (c *Codec) EncryptName(dirIV [DirIVSize]byte, name string) (diskName, side string, err error) {
	if c.name == nil {
		return "", "", ErrClosed
	}
	if err := checkName(name); err != nil {
		return "", "", err
	}
	encoded := b64.EncodeToString(c.name.Encrypt(dirIV[:], pad([]byte(name))))
	if len(encoded) > MaxNameLen {
		return LongName(encoded), encoded, nil
	}
	return encoded, "", nil
}

// DecryptName decrypts an encoded name: a short on-disk name or the content
// of a long name's side file (see [ParseLongSide]). Anything that is not the
// canonical encoding of a legal name fails with [ErrBadName].
func (c *Codec) DecryptName(dirIV [DirIVSize]byte, encoded string) (string, error) {
	if c.name == nil {
		return "", ErrClosed
	}
	ct, ok := decodeName(encoded)
	if !ok {
		return "", ErrBadName
	}
	plain, ok := unpad(c.name.Decrypt(dirIV[:], ct))
	if !ok {
		return "", ErrBadName
	}
	name := string(plain)
	if err := checkName(name); err != nil {
		return "", ErrBadName
	}
	return name, nil
}

// checkName enforces NAMES.md §4.1 on a plaintext name.
func checkName(name string) error {
	switch {
	case len(name) > MaxNameLen:
		return ErrTooLong
	case name == "" || name == "." || name == "..":
		return ErrBadName
	case strings.ContainsAny(name, "/\x00"):
		return ErrBadName
	case IsMarked(name):
		return ErrReservedName
	}
	return nil
}

// decodeName decodes a canonical encoding of 1 to 16 EME blocks (NAMES.md
// §1, §4.4). It checks the length first, because eme panics on other sizes.
func decodeName(encoded string) ([]byte, bool) {
	if len(encoded) == 0 || len(encoded) > b64.EncodedLen(maxPadded) {
		return nil, false
	}
	if strings.ContainsAny(encoded, "\r\n") {
		return nil, false
	}
	ct, err := b64.DecodeString(encoded)
	if err != nil || len(ct) == 0 || len(ct)%blockSize != 0 {
		return nil, false
	}
	return ct, true
}

// pad applies PKCS#7 padding to a multiple of 16 bytes, always adding 1 to
// 16 bytes (NAMES.md §4.2).
func pad(b []byte) []byte {
	n := blockSize - len(b)%blockSize
	out := make([]byte, len(b)+n)
	copy(out, b)
	for i := len(b); i < len(out); i++ {
		out[i] = byte(n)
	}
	return out
}

// unpad reverses pad and reports whether the padding was valid. It need not
// run in constant time: EME is a wide-block permutation, so learning that one
// ciphertext has valid padding tells nothing about any other (NAMES.md §13).
func unpad(b []byte) ([]byte, bool) {
	if len(b) == 0 || len(b)%blockSize != 0 {
		return nil, false
	}
	n := int(b[len(b)-1])
	if n == 0 || n > blockSize {
		return nil, false
	}
	for _, v := range b[len(b)-n:] {
		if int(v) != n {
			return nil, false
		}
	}
	return b[:len(b)-n], true
}

// sha256Name returns base64url(SHA-256(s)), 43 characters.
func sha256Name(s string) string {
	sum := sha256.Sum256([]byte(s))
	return b64.EncodeToString(sum[:])
}
