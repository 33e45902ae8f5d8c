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
// key and version a header names. Its errors keep the service's sentinel
// and add the envelope error class a filesystem maps to an errno (see
// [KeyErrorClass]).
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
		return envelope.KeyRef{}, nil, classify(err)
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
	if err != nil {
		return nil, classify(err)
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

// KeyErrorClass returns the envelope error class of a key service error:
// [envelope.ErrUnauthenticated] for a wrapped key that does not
// authenticate, [envelope.ErrKeyDenied] for a key that exists but may not be
// used now, [envelope.ErrKeyUnavailable] for one that is unknown or a
// service that failed or cannot be reached, and nil for an error that is
// the caller's own (a cancelled context, an invalid request).
func KeyErrorClass(err error) error {
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return nil
	case errors.Is(err, ErrInvalidCiphertext), errors.Is(err, ErrIncorrectKey):
		return envelope.ErrUnauthenticated
	case errors.Is(err, ErrDisabled), errors.Is(err, ErrInvalidState),
		errors.Is(err, ErrVersionRetired), errors.Is(err, ErrWrongPassphrase):
		return envelope.ErrKeyDenied
	case errors.Is(err, ErrValidation):
		return nil
	}
	// Not found, internal, locked, and transport failures that wrap no
	// sentinel: the key cannot be had here.
	return envelope.ErrKeyUnavailable
}

// classify adds err's envelope class to it, keeping the original chain.
func classify(err error) error {
	class := KeyErrorClass(err)
	if class == nil || errors.Is(err, class) {
		return err
	}
	return fmt.Errorf("%w (%w)", class, err)
}
