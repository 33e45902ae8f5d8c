package keyring_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/kmsfs/kmsfs/envelope"
	"github.com/kmsfs/kmsfs/keyring"
)

// TestKeyErrorClass: every refusal of a key service reaches the filesystem
// as one envelope class, local or remote alike, and keeps its sentinel.
func TestKeyErrorClass(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want error // nil: the error is the caller's own
	}{
		{"disabled", fmt.Errorf("unwrap: %w", keyring.ErrDisabled), envelope.ErrKeyDenied},
		{"pending deletion", keyring.ErrInvalidState, envelope.ErrKeyDenied},
		{"retired version", keyring.ErrVersionRetired, envelope.ErrKeyDenied},
		{"remote disabled", keyring.ErrorFromType("DisabledException", "no"), envelope.ErrKeyDenied},
		{"not found", keyring.ErrNotFound, envelope.ErrKeyUnavailable},
		{"internal", keyring.ErrInternal, envelope.ErrKeyUnavailable},
		{"locked", keyring.ErrLocked, envelope.ErrKeyUnavailable},
		{"unreachable", errors.New("dial unix: connection refused"), envelope.ErrKeyUnavailable},
		{"tampered", keyring.ErrInvalidCiphertext, envelope.ErrUnauthenticated},
		{"cancelled", context.Canceled, nil},
		{"bad request", keyring.ErrValidation, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := keyring.KeyErrorClass(tc.err); got != tc.want {
				t.Errorf("KeyErrorClass(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

// refusingService fails every UnwrapDEK and WrapDEK with err.
type refusingService struct {
	keyring.Service
	err error
}

func (s refusingService) UnwrapDEK(context.Context, *keyring.UnwrapDEKInput) (*keyring.UnwrapDEKOutput, error) {
	return nil, s.err
}

func (s refusingService) WrapDEK(context.Context, *keyring.WrapDEKInput) (*keyring.WrapDEKOutput, error) {
	return nil, s.err
}

// TestKeyServiceClassifies: the adapter adds the class and keeps the
// sentinel, so fs maps errnos by class and cmd maps exit codes by sentinel.
func TestKeyServiceClassifies(t *testing.T) {
	ks := keyring.NewKeyService(refusingService{err: keyring.ErrDisabled}, "alias/x")
	_, err := ks.UnwrapKey(context.Background(), envelope.KeyRef{Version: 1}, []byte("w"), nil)
	if !errors.Is(err, envelope.ErrKeyDenied) || !errors.Is(err, keyring.ErrDisabled) {
		t.Errorf("UnwrapKey: %v, want ErrKeyDenied and ErrDisabled", err)
	}
	_, _, err = ks.WrapKey(context.Background(), make([]byte, 32), nil)
	if !errors.Is(err, envelope.ErrKeyDenied) {
		t.Errorf("WrapKey: %v, want ErrKeyDenied", err)
	}
}
