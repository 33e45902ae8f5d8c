package session

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"

	"github.com/google/uuid"

	"github.com/kmsfs/kmsfs/envelope"
	kfs "github.com/kmsfs/kmsfs/fs"
	"github.com/kmsfs/kmsfs/internal/maintain"
	"github.com/kmsfs/kmsfs/keyring"
	"github.com/kmsfs/kmsfs/keyring/kmsapi"
)

// MountControl is what a mount serves on its control socket.
//
// Rewraps go to the mount's fs.Root, which rewraps a file it has open
// through the file's shared state (so the cached header follows) and
// any other file directly while holding off opens of it; none is refused.
// The socket is served before the mount exists (a second mount of the
// tree must fail there), so until [MountControl.SetRoot], rewraps answer
// maintain.ErrBusy and the client retries.
type MountControl struct {
	svc  keyring.Service
	keys *VolumeKeys
	root atomic.Pointer[kfs.Root]
}

var _ Control = (*MountControl)(nil)

// SetRoot hands the control the mount's root once mounted.
func (m *MountControl) SetRoot(root *kfs.Root) { m.root.Store(root) }

// RewrapFile rewraps one file through the mount.
func (m *MountControl) RewrapFile(ctx context.Context, rel string, target envelope.KeyRef) (maintain.Result, error) {
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
func (m *MountControl) SetVolumeKey(ctx context.Context, keyID string) error {
	id, err := EnabledKey(ctx, m.svc, keyID)
	if err != nil {
		return err
	}
	m.keys.SetKey(id)
	return nil
}

// EnabledKey returns the key ID of keyID (any form) if the key is Enabled,
// and an error wrapping keyring.ErrDisabled otherwise.
func EnabledKey(ctx context.Context, svc keyring.Service, keyID string) (string, error) {
	out, err := svc.DescribeKey(ctx, &keyring.KeyIDInput{KeyId: keyID})
	if err != nil {
		return "", err
	}
	if st := out.KeyMetadata.KeyState; st != keyring.StateEnabled {
		return "", fmt.Errorf("key %s is %s: %w", keyID, st, keyring.ErrDisabled)
	}
	return out.KeyMetadata.KeyId, nil
}

// ServeControl serves the control socket of the mount of cipherDir until
// stop is called. A second mount of the same tree fails here (the socket
// is live), which keeps two mounts from writing one tree.
func ServeControl(keyringDir, cipherDir string, svc keyring.Service, keys *VolumeKeys, logger *slog.Logger) (ctl *MountControl, stop func(), err error) {
	sock, err := ControlSocketPath(keyringDir, cipherDir)
	if err != nil {
		return nil, nil, err
	}
	if err := os.MkdirAll(ControlSocketDir(keyringDir), 0o700); err != nil {
		return nil, nil, fmt.Errorf("control socket: %w", err)
	}
	ctl = &MountControl{svc: svc, keys: keys}
	ln, err := kmsapi.ListenUnix(sock, NewControlHandler(ctl, logger))
	if err != nil {
		return nil, nil, fmt.Errorf("control socket (is %s mounted already?): %w", cipherDir, err)
	}
	return ctl, func() { ln.Close() }, nil
}
