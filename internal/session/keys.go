package session

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/kmsfs/kmsfs/envelope"
	"github.com/kmsfs/kmsfs/internal/maintain"
	"github.com/kmsfs/kmsfs/internal/volume"
	"github.com/kmsfs/kmsfs/keyring"
	"github.com/kmsfs/kmsfs/keyring/kmsclient"
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

// RemoteConfig says which remote KMS holds a volume's key: what
// `kmsfs init --kms-endpoint/--kms aws` was given, or what a version 3
// volume config records. Credentials are not part of it (see
// kmsclient.ClientConfig).
type RemoteConfig struct {
	Endpoint string // "" is AWS KMS itself
	Region   string
	KeyID    string // key ID, ARN or alias
	VolumeID string
	Logger   *slog.Logger
	// Timeout bounds each KMS call (0: kmsclient.DefaultTimeout).
	Timeout time.Duration
	// Cache bounds the cache of unwrapped data keys (zero: the defaults).
	Cache kmsclient.CacheConfig
}

// RemoteConfigOf returns the RemoteConfig of a remote-KMS volume.
func RemoteConfigOf(conf *volume.Config, logger *slog.Logger) (RemoteConfig, error) {
	if !conf.IsKMS() {
		return RemoteConfig{}, fmt.Errorf("%w: the volume's key is in a local keyring", volume.ErrBadConfig)
	}
	return RemoteConfig{Endpoint: conf.KMS.Endpoint, Region: conf.KMS.Region, KeyID: conf.KMS.KeyArn,
		VolumeID: conf.VolumeID, Logger: logger}, nil
}

// NewRemoteKeys returns the key service of a volume whose key lives in a
// remote KMS: the AWS SDK's KMS client, configured from the usual AWS
// chain (environment, shared config and profiles), with rc's endpoint and
// region. It makes no call; the mount's first open, or Check, does.
func NewRemoteKeys(ctx context.Context, rc RemoteConfig) (*kmsclient.Service, error) {
	client, err := kmsclient.NewClient(ctx, kmsclient.ClientConfig{Endpoint: rc.Endpoint, Region: rc.Region})
	if err != nil {
		return nil, err
	}
	return kmsclient.New(client, kmsclient.Config{KeyID: rc.KeyID, VolumeID: rc.VolumeID, Endpoint: rc.Endpoint,
		Timeout: rc.Timeout, Cache: rc.Cache, Logger: rc.Logger})
}

// RemoteKeysFor returns the key services of a remote-KMS volume for
// whole-tree jobs (`kmsfs rewrap`): unwrap with Decrypt, wrap under the
// key named with ReEncrypt (or Encrypt), sharing ks's client and cache.
func RemoteKeysFor(ks *kmsclient.Service) maintain.KeysFor {
	return func(keyID string) envelope.KeyService { return ks.ForKey(keyID) }
}
