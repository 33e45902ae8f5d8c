// Package testkms is a deterministic, in-memory KeyService for envelope
// tests and test vectors. It implements exactly the DEK wrap construction
// of FORMAT.md, "Key hierarchy", with fixed master keys, so that vectors
// can be checked without a keyring.
package testkms

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/kmsfs/kmsfs/envelope"
)

// WrapInfo is the HKDF info and AAD prefix of the DEK wrap.
const WrapInfo = "kmsfs v1 dek wrap"

// SaltSize is the size of the random salt in front of a wrapped DEK.
const SaltSize = 32

// Sentinel errors for the non-authentication failures a keyring reports.
var (
	ErrNotFound = errors.New("testkms: key version not found")
	ErrDisabled = errors.New("testkms: key is disabled")
)

// Service holds the versions of one master key. The zero value is not
// useful; use New.
type Service struct {
	mu       sync.Mutex
	keyID    [envelope.KeyIDSize]byte
	versions map[uint32][]byte
	current  uint32
	disabled bool
	rand     io.Reader
}

// New returns a Service for keyID whose version v has key versions[v], and
// which wraps under current.
func New(keyID [envelope.KeyIDSize]byte, versions map[uint32][]byte, current uint32) *Service {
	return &Service{keyID: keyID, versions: versions, current: current, rand: rand.Reader}
}

// SetRand makes wrap salts come from r (vectors use a deterministic r).
func (s *Service) SetRand(r io.Reader) { s.mu.Lock(); s.rand = r; s.mu.Unlock() }

// SetCurrent changes the version new wraps use (a rotation).
func (s *Service) SetCurrent(v uint32) { s.mu.Lock(); s.current = v; s.mu.Unlock() }

// SetDisabled makes every operation fail with ErrDisabled.
func (s *Service) SetDisabled(d bool) { s.mu.Lock(); s.disabled = d; s.mu.Unlock() }

// WrapKey implements envelope.KeyWrapper.
func (s *Service) WrapKey(ctx context.Context, dek, aad []byte) (envelope.KeyRef, []byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.disabled {
		return envelope.KeyRef{}, nil, ErrDisabled
	}
	ref := envelope.KeyRef{KeyID: s.keyID, Version: s.current}
	salt := make([]byte, SaltSize)
	if _, err := io.ReadFull(s.rand, salt); err != nil {
		return envelope.KeyRef{}, nil, err
	}
	aead, err := s.aead(ref, salt)
	if err != nil {
		return envelope.KeyRef{}, nil, err
	}
	return ref, aead.Seal(salt, make([]byte, 12), dek, WrapAAD(ref, aad)), nil
}

// UnwrapKey implements envelope.KeyUnwrapper.
func (s *Service) UnwrapKey(ctx context.Context, ref envelope.KeyRef, wrapped, aad []byte) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.disabled {
		return nil, ErrDisabled
	}
	if ref.KeyID != s.keyID {
		return nil, fmt.Errorf("%w: key %v", ErrNotFound, ref)
	}
	if len(wrapped) < SaltSize {
		return nil, fmt.Errorf("testkms: %w", envelope.ErrUnauthenticated)
	}
	aead, err := s.aead(ref, wrapped[:SaltSize])
	if err != nil {
		return nil, err
	}
	dek, err := aead.Open(nil, make([]byte, 12), wrapped[SaltSize:], WrapAAD(ref, aad))
	if err != nil {
		return nil, fmt.Errorf("testkms: %w", envelope.ErrUnauthenticated)
	}
	return dek, nil
}

// aead returns AES-256-GCM under HKDF-SHA-256(ikm=master key of ref,
// salt, info=WrapInfo).
func (s *Service) aead(ref envelope.KeyRef, salt []byte) (cipher.AEAD, error) {
	mk, ok := s.versions[ref.Version]
	if !ok {
		return nil, fmt.Errorf("%w: %v", ErrNotFound, ref)
	}
	k, err := hkdf.Key(sha256.New, mk, salt, WrapInfo, 32)
	if err != nil {
		return nil, err
	}
	defer clear(k)
	block, err := aes.NewCipher(k)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// WrapAAD is "kmsfs v1 dek wrap" || key ID || key version u32 || aad.
func WrapAAD(ref envelope.KeyRef, aad []byte) []byte {
	b := append([]byte(WrapInfo), ref.KeyID[:]...)
	b = binary.BigEndian.AppendUint32(b, ref.Version)
	return append(b, aad...)
}
