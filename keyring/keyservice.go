package keyring

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/kmsfs/kmsfs/envelope"
)

// NewKeyService adapts a [Service] (local or remote) to the
// [envelope.KeyService] the filesystem holds: it wraps new data keys under
// the current version of keyID (any key ID form) and unwraps under the
// key and version a header names. An [ErrInvalidCiphertext] from UnwrapDEK
// comes back as an error that also wraps [envelope.ErrUnauthenticated];
// every other error (disabled, deleted, retired, unreachable) passes
// through unchanged.
func NewKeyService(svc Service, keyID string) envelope.KeyService {
	return &keyService{svc: svc, keyID: keyID}
}

type keyService struct {
	svc   Service
	keyID string
}

var _ envelope.KeyService = (*keyService)(nil)

// WrapKey wraps dek, binding aad. The keyring commits a key version before
// any wrap can use it, so the returned ref is durable.
func (s *keyService) WrapKey(ctx context.Context, dek, aad []byte) (envelope.KeyRef, []byte, error) {
	out, err := s.svc.WrapDEK(ctx, &WrapDEKInput{KeyId: s.keyID, Plaintext: dek, AAD: aad})
	if err != nil {
		return envelope.KeyRef{}, nil, err
	}
	id, err := uuid.Parse(out.KeyId)
	if err != nil || out.KeyVersion == 0 {
		return envelope.KeyRef{}, nil, fmt.Errorf("%w: WrapDEK returned key %q version %d", ErrInternal, shortID(out.KeyId), out.KeyVersion)
	}
	return envelope.KeyRef{KeyID: id, Version: out.KeyVersion}, out.WrappedKey, nil
}

// UnwrapKey recovers a data key from a header slot.
func (s *keyService) UnwrapKey(ctx context.Context, ref envelope.KeyRef, wrapped, aad []byte) ([]byte, error) {
	out, err := s.svc.UnwrapDEK(ctx, &UnwrapDEKInput{
		KeyId: uuid.UUID(ref.KeyID).String(), KeyVersion: ref.Version, WrappedKey: wrapped, AAD: aad})
	if errors.Is(err, ErrInvalidCiphertext) {
		return nil, fmt.Errorf("%w (%w)", envelope.ErrUnauthenticated, err)
	}
	if err != nil {
		return nil, err
	}
	return out.Plaintext, nil
}

// shortID bounds a key ID quoted in an error, since it came from a server.
func shortID(s string) string {
	const max = 256
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}
