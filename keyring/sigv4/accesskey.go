package sigv4

import (
	"encoding/base32"
	"encoding/base64"
	"fmt"
	"io"
	"strings"
)

// Access keys look like AWS's long-term IAM user keys, so that tools that
// check the shape (a 20-character ID starting with AKIA, a 40-character
// secret) accept them.
const (
	accessKeyPrefix   = "AKIA"
	accessKeyIDRandom = 10 // bytes: 16 base32 characters
	// AccessKeyIDLen is the length of an access key ID.
	AccessKeyIDLen = len(accessKeyPrefix) + accessKeyIDRandom*8/5
	secretRandom   = 30 // bytes: 40 base64 characters, no padding
	// SecretLen is the length of a secret access key.
	SecretLen = secretRandom * 4 / 3
)

// NewAccessKey returns a new access key ID ("AKIA" and 16 characters of
// base32) and a 40-character secret (standard base64 of 30 random bytes),
// both drawn from rand (crypto/rand.Reader in production).
func NewAccessKey(rand io.Reader) (id string, secret []byte, err error) {
	b := make([]byte, accessKeyIDRandom+secretRandom)
	defer clear(b)
	if _, err := io.ReadFull(rand, b); err != nil {
		return "", nil, fmt.Errorf("sigv4: reading randomness: %w", err)
	}
	id = accessKeyPrefix + base32.StdEncoding.EncodeToString(b[:accessKeyIDRandom])
	secret = make([]byte, SecretLen)
	base64.StdEncoding.Encode(secret, b[accessKeyIDRandom:])
	return id, secret, nil
}

// ValidAccessKeyID reports whether id has the shape [NewAccessKey] gives.
func ValidAccessKeyID(id string) bool {
	rest, ok := strings.CutPrefix(id, accessKeyPrefix)
	if !ok || len(id) != AccessKeyIDLen {
		return false
	}
	for _, c := range []byte(rest) {
		if !('A' <= c && c <= 'Z' || '2' <= c && c <= '7') {
			return false
		}
	}
	return true
}
