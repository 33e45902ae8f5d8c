package names

import "strings"

// Long-name layout, NAMES.md §5:
//
//	diskName = "kmsfs.long." || base64url(SHA-256(encoded))   54 bytes
//	side     = diskName || ".name"                            59 bytes
//	content of side = encoded (256..342 bytes, no newline)
const (
	LongPrefix = "kmsfs.long."
	LongSuffix = ".name"

	longHashLen = 43 // base64url of 32 bytes, unpadded
	longNameLen = len(LongPrefix) + longHashLen
)

// LongName returns the on-disk name for an encoded name that is longer than
// [MaxNameLen]. It needs no key: it hashes ciphertext, which is public.
func LongName(encoded string) string {
	return LongPrefix + sha256Name(encoded)
}

// IsLong reports whether diskName is exactly a long name as LongName builds
// it. Conflict copies such as "kmsfs.long.X (1)" are not long names; they
// fail to decrypt and are shown marked.
func IsLong(diskName string) bool {
	if len(diskName) != longNameLen || !strings.HasPrefix(diskName, LongPrefix) {
		return false
	}
	sum, err := b64.DecodeString(diskName[len(LongPrefix):])
	return err == nil && len(sum) == 32
}

// LongSideFile returns the name of the side file that holds the encoded name
// for the long name diskName.
func LongSideFile(diskName string) string {
	return diskName + LongSuffix
}

// ParseLongSide checks the content of diskName's side file and returns the
// encoded name to pass to DecryptName. It fails with [ErrBadName] unless
// diskName is a long name, the content hashes to it, and the content is too
// long to have been stored as a short name: so one plaintext name never has
// two on-disk names.
func ParseLongSide(diskName string, content []byte) (string, error) {
	encoded := string(content)
	switch {
	case !IsLong(diskName):
		return "", ErrBadName
	case len(encoded) <= MaxNameLen || len(encoded) > b64.EncodedLen(maxPadded):
		return "", ErrBadName
	case LongName(encoded) != diskName:
		return "", ErrBadName
	}
	return encoded, nil
}
