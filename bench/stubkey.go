package bench

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"errors"

	"github.com/kmsfs/kmsfs/envelope"
)

// stubKey is the fixed master key of stubWrapper; benchmarks protect
// nothing.
var stubKey = make([]byte, 32)

// stubWrapper wraps DEKs with AES-256-GCM under an all-zero key and a
// zero nonce. It is a stand-in for the keyring in benchmarks only: it
// provides no security.
type stubWrapper struct{}

func stubAEAD() cipher.AEAD {
	block, _ := aes.NewCipher(stubKey)
	aead, _ := cipher.NewGCM(block)
	return aead
}

func (stubWrapper) WrapKey(_ context.Context, dek, aad []byte) (envelope.KeyRef, []byte, error) {
	return envelope.KeyRef{Version: 1}, stubAEAD().Seal(nil, make([]byte, 12), dek, aad), nil
}

func (stubWrapper) UnwrapKey(_ context.Context, _ envelope.KeyRef, wrapped, aad []byte) ([]byte, error) {
	dek, err := stubAEAD().Open(nil, make([]byte, 12), wrapped, aad)
	if err != nil {
		return nil, errors.Join(envelope.ErrUnauthenticated, err)
	}
	return dek, nil
}
