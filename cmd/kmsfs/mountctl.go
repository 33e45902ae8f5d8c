package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"

	"github.com/google/uuid"
	"github.com/urfave/cli/v2"

	"github.com/kmsfs/kmsfs/envelope"
	kfs "github.com/kmsfs/kmsfs/fs"
	"github.com/kmsfs/kmsfs/internal/maintain"
	"github.com/kmsfs/kmsfs/keyring"
	"github.com/kmsfs/kmsfs/keyring/kmsapi"
)

// volumeKeys is a mount's envelope.KeyService: it unwraps under whatever
// key version a header names and wraps the DEKs of new files under the
// volume key, which `kmsfs rewrap --key` switches while mounted
// (KmsfsService.SetVolumeKey), so that files created during the move
// already land under the new key.
type volumeKeys struct {
	svc keyring.Service
	id  atomic.Pointer[string]
}

var _ envelope.KeyService = (*volumeKeys)(nil)

func newVolumeKeys(svc keyring.Service, keyID string) *volumeKeys {
	k := &volumeKeys{svc: svc}
	k.id.Store(&keyID)
	return k
}

func (k *volumeKeys) current() envelope.KeyService {
	return keyring.NewKeyService(k.svc, *k.id.Load())
}

// WrapKey wraps under the newest version of the current volume key.
func (k *volumeKeys) WrapKey(ctx context.Context, dek, aad []byte) (envelope.KeyRef, []byte, error) {
	return k.current().WrapKey(ctx, dek, aad)
}

// UnwrapKey unwraps under the key version the header names.
func (k *volumeKeys) UnwrapKey(ctx context.Context, ref envelope.KeyRef, wrapped, aad []byte) ([]byte, error) {
	return k.current().UnwrapKey(ctx, ref, wrapped, aad)
}

// mountControl is what a mount serves on its control socket.
//
// Rewraps go to the mount's fs.Root, which rewraps a file it has open
// through the file's shared state (so the cached header follows) and
// any other file directly while holding off opens of it; none is refused.
// The socket is served before the mount exists (a second mount of the
// tree must fail there), so until Mount returns, rewraps answer ErrBusy
// and the client retries.
type mountControl struct {
	svc  keyring.Service
	keys *volumeKeys
	root atomic.Pointer[kfs.Root]
}

var _ maintain.Control = (*mountControl)(nil)

// RewrapFile implements maintain.Rewrapper through the mount.
func (m *mountControl) RewrapFile(ctx context.Context, rel string, target envelope.KeyRef) (maintain.Result, error) {
	root := m.root.Load()
	if root == nil {
		return maintain.Result{}, fmt.Errorf("%w: %s: the mount is still starting", maintain.ErrBusy, rel)
	}
	w := keyring.NewKeyService(m.svc, uuid.UUID(target.KeyID).String())
	changed, old, new, err := root.RewrapFile(ctx, rel, w)
	if errors.Is(err, kfs.ErrBadPath) {
		err = fmt.Errorf("%w: %w", maintain.ErrBadPath, err)
	}
	return maintain.Result{Changed: changed, Old: old, New: new}, err
}

// SetVolumeKey checks that keyID names an enabled key and makes the
// mount wrap new files under it.
func (m *mountControl) SetVolumeKey(ctx context.Context, keyID string) error {
	out, err := m.svc.DescribeKey(ctx, &keyring.KeyIDInput{KeyId: keyID})
	if err != nil {
		return err
	}
	if st := out.KeyMetadata.KeyState; st != keyring.StateEnabled {
		return fmt.Errorf("key %s is %s: %w", keyID, st, keyring.ErrDisabled)
	}
	id := out.KeyMetadata.KeyId
	m.keys.id.Store(&id)
	return nil
}

// serveControl serves the control socket of the mount of cipherDir until
// stop is called; the caller hands ctl the mount's root once mounted. A
// second mount of the same tree fails here (the socket is live), which
// keeps two mounts from writing one tree.
func serveControl(c *cli.Context, cipherDir string, svc keyring.Service, keys *volumeKeys, logger *slog.Logger) (ctl *mountControl, stop func(), err error) {
	sock, err := maintain.ControlSocketPath(c.String("keyring"), cipherDir)
	if err != nil {
		return nil, nil, err
	}
	if err := os.MkdirAll(maintain.ControlSocketDir(c.String("keyring")), 0o700); err != nil {
		return nil, nil, fmt.Errorf("control socket: %w", err)
	}
	ctl = &mountControl{svc: svc, keys: keys}
	ln, err := kmsapi.ListenUnix(sock, maintain.NewControlHandler(ctl, logger))
	if err != nil {
		return nil, nil, fmt.Errorf("control socket (is %s mounted already?): %w", cipherDir, err)
	}
	return ctl, func() { ln.Close() }, nil
}

// keysFor returns the key services of the keyring: unwrap any version,
// wrap under the newest version of the key named.
func keysFor(svc keyring.Service) maintain.KeysFor {
	return func(keyID string) envelope.KeyService { return keyring.NewKeyService(svc, keyID) }
}
