package session

import (
	"context"
	"sync/atomic"

	"github.com/kmsfs/kmsfs/envelope"
	"github.com/kmsfs/kmsfs/internal/maintain"
	"github.com/kmsfs/kmsfs/keyring"
)

// VolumeKeys is a mount's envelope.KeyService: it unwraps under whatever
// key version a header names and wraps the DEKs of new files under the
// volume key, which `kmsfs rewrap --key` switches while mounted
// (KmsfsService.SetVolumeKey), so that files created during the move
// already land under the new key.
type VolumeKeys struct {
	svc keyring.Service
	id  atomic.Pointer[string]
}

var _ envelope.KeyService = (*VolumeKeys)(nil)

// NewVolumeKeys returns the key service of a volume whose key is keyID.
func NewVolumeKeys(svc keyring.Service, keyID string) *VolumeKeys {
	k := &VolumeKeys{svc: svc}
	k.SetKey(keyID)
	return k
}

// SetKey makes new files wrap under keyID.
func (k *VolumeKeys) SetKey(keyID string) { k.id.Store(&keyID) }

func (k *VolumeKeys) current() envelope.KeyService {
	return keyring.NewKeyService(k.svc, *k.id.Load())
}

// WrapKey wraps under the newest version of the current volume key.
func (k *VolumeKeys) WrapKey(ctx context.Context, dek, aad []byte) (envelope.KeyRef, []byte, error) {
	return k.current().WrapKey(ctx, dek, aad)
}

// UnwrapKey unwraps under the key version the header names.
func (k *VolumeKeys) UnwrapKey(ctx context.Context, ref envelope.KeyRef, wrapped, aad []byte) ([]byte, error) {
	return k.current().UnwrapKey(ctx, ref, wrapped, aad)
}

// KeysFor returns the key services of svc for whole-tree jobs: unwrap any
// version, wrap under the newest version of the key named.
func KeysFor(svc keyring.Service) maintain.KeysFor {
	return func(keyID string) envelope.KeyService { return keyring.NewKeyService(svc, keyID) }
}
