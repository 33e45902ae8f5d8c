// Package testkms is the one in-memory envelope.KeyService of kmsfs's
// tests and benchmarks (envelope, fs, volume, bench). It implements exactly
// the DEK wrap construction of FORMAT.md §5.2 with fixed master keys, so
// that vectors can be checked without a keyring, and it can rotate
// ([Service.Rotate]) and fail on demand ([Service.SetFail]) as a real key
// service would. It protects nothing: its master keys are public.
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
	fail     error
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
func (s *Service) SetDisabled(d bool) {
	if d {
		s.SetFail(ErrDisabled)
	} else {
		s.SetFail(nil)
	}
}

// SetFail makes every operation fail with err, as a key service that
// refuses (disabled key, unreachable server); nil restores service.
func (s *Service) SetFail(err error) { s.mu.Lock(); s.fail = err; s.mu.Unlock() }

// FixedKeyID is the key ID of [NewFixed]'s service.
var FixedKeyID = [envelope.KeyIDSize]byte{'t', 'e', 's', 't', '-', 'm', 'a', 's', 't', 'e', 'r', '-', 'k', 'e', 'y', '!'}

// NewFixed returns a service for FixedKeyID whose version 1 (the current
// one) is the key of [VersionKey].
func NewFixed() *Service {
	return New(FixedKeyID, map[uint32][]byte{1: VersionKey(1)}, 1)
}

// VersionKey is the public master key that Rotate gives version v.
func VersionKey(v uint32) []byte {
	k := make([]byte, 32)
	for i := range k {
		k[i] = byte(v) ^ 0x42
	}
	return k
}

// Rotate adds version current+1 (key [VersionKey]) and makes it current,
// as a key rotation does; older versions still unwrap. It returns the
// new version's reference.
func (s *Service) Rotate() envelope.KeyRef {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.current + 1
	s.versions[v] = VersionKey(v)
	s.current = v
	return envelope.KeyRef{KeyID: s.keyID, Version: v}
}

// Current returns the reference new wraps use.
func (s *Service) Current() envelope.KeyRef {
	s.mu.Lock()
	defer s.mu.Unlock()
	return envelope.KeyRef{KeyID: s.keyID, Version: s.current}
}

// WrapKey implements envelope.KeyWrapper.
func (s *Service) WrapKey(ctx context.Context, dek, aad []byte) (envelope.KeyRef, []byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return envelope.KeyRef{}, nil, s.fail
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
	if s.fail != nil {
		return nil, s.fail
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
