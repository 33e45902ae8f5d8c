package names

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"strings"
)

// Marked symlink targets of plaintext-names volumes, NAMES.md §10.1. A
// plaintext-names volume stores targets readable, so a target alone cannot
// tell a symlink the mount made from one planted in CIPHERDIR. The mount
// therefore stores
//
//	stored = "kmsfs-link~" || base64url(HMAC-SHA-256(K_mark, ad || target)) || "~" || target
//	K_mark = HKDF-SHA-256(ikm=link key, salt="", info="kmsfs v1 plaintext symlink", L=32)
//	ad     = "kmsfs v1 plaintext symlink"
//
// and follows only targets whose MAC verifies.
const (
	// LinkMarkPrefix starts every marked target.
	LinkMarkPrefix = "kmsfs-link~"
	// LinkMarkOverhead is what marking adds to a target.
	LinkMarkOverhead = len(LinkMarkPrefix) + linkMACChars + 1
	// MaxMarkedTargetLen is the longest target whose marked form fits in
	// a Linux symlink (4095 bytes).
	MaxMarkedTargetLen = maxSymlinkLen - LinkMarkOverhead

	labelPlainSymlink = "kmsfs v1 plaintext symlink"
	linkMACChars      = (sha256.Size*8 + 5) / 6 // unpadded base64url of 32 bytes: 43
)

// A LinkMarker marks and checks the symlink targets of one plaintext-names
// volume. It is safe for concurrent use.
type LinkMarker struct {
	key []byte // K_mark
}

// NewLinkMarker derives K_mark from the volume's link key ([KeySize]
// random bytes, which the caller keeps owning).
func NewLinkMarker(linkKey []byte) (*LinkMarker, error) {
	if len(linkKey) != KeySize {
		return nil, ErrKeySize
	}
	k, err := hkdf.Key(sha256.New, linkKey, nil, labelPlainSymlink, KeySize)
	if err != nil {
		return nil, fmt.Errorf("names: derive %q: %w", labelPlainSymlink, err)
	}
	return &LinkMarker{key: k}, nil
}

// mac returns the encoded MAC of target.
func (m *LinkMarker) mac(target string) string {
	h := hmac.New(sha256.New, m.key)
	h.Write([]byte(labelPlainSymlink))
	h.Write([]byte(target))
	return b64.EncodeToString(h.Sum(nil))
}

// MarkTarget returns what the backing symlink stores for target.
func (m *LinkMarker) MarkTarget(target string) (string, error) {
	if len(target) > MaxMarkedTargetLen {
		return "", ErrTooLong
	}
	return LinkMarkPrefix + m.mac(target) + "~" + target, nil
}

// CheckTarget returns the target that MarkTarget stored as stored. A
// stored target without the mark fails with [ErrUnmarkedTarget], one whose
// mark does not verify with [ErrUnauthenticated].
func (m *LinkMarker) CheckTarget(stored string) (string, error) {
	mac, target, err := SplitMarkedTarget(stored)
	if err != nil {
		return "", err
	}
	if !hmac.Equal([]byte(mac), []byte(m.mac(target))) {
		return "", ErrUnauthenticated
	}
	return target, nil
}

// SplitMarkedTarget parses a marked target into its encoded MAC and the
// target, without checking the MAC. A stored target that does not start
// with [LinkMarkPrefix] fails with [ErrUnmarkedTarget]; one that does but
// is malformed, with [ErrUnauthenticated].
func SplitMarkedTarget(stored string) (mac, target string, err error) {
	rest, ok := strings.CutPrefix(stored, LinkMarkPrefix)
	if !ok {
		return "", "", ErrUnmarkedTarget
	}
	if len(rest) < linkMACChars+1 || rest[linkMACChars] != '~' {
		return "", "", ErrUnauthenticated
	}
	mac, target = rest[:linkMACChars], rest[linkMACChars+1:]
	if raw, err := b64.DecodeString(mac); err != nil || len(raw) != sha256.Size {
		return "", "", ErrUnauthenticated
	}
	return mac, target, nil
}
