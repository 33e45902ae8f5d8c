package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"

	"github.com/urfave/cli/v2"

	"github.com/kmsfs/kmsfs/envelope"
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
// Rewraps run in the mount process with maintain.Local, refusing (ErrBusy,
// retried by the client) files that the mount has open, because package fs
// keeps an open file's header state in memory and would later write its
// next header slot over the rewrapped one. Once fs can rewrap its open
// files (File.Rewrap on the shared state), RewrapFile should go to it
// instead; see the report of issue 4.
type mountControl struct {
	*maintain.Local
	svc  keyring.Service
	keys *volumeKeys
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
// the returned stop is called. A second mount of the same tree fails here
// (the socket is live), which keeps two mounts from writing one tree.
func serveControl(c *cli.Context, cipherDir string, svc keyring.Service, keys *volumeKeys, logger *slog.Logger) (stop func(), err error) {
	sock, err := maintain.ControlSocketPath(c.String("keyring"), cipherDir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(maintain.ControlSocketDir(c.String("keyring")), 0o700); err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	local, err := maintain.NewLocal(cipherDir, keysFor(svc), maintain.LocalOptions{RefuseOpenInProcess: true})
	if err != nil {
		return nil, err
	}
	ctl := &mountControl{Local: local, svc: svc, keys: keys}
	ln, err := kmsapi.ListenUnix(sock, maintain.NewControlHandler(ctl, logger))
	if err != nil {
		local.Close()
		return nil, fmt.Errorf("control socket (is %s mounted already?): %w", cipherDir, err)
	}
	return func() { ln.Close(); local.Close() }, nil
}

// keysFor returns the key services of the keyring: unwrap any version,
// wrap under the newest version of the key named.
func keysFor(svc keyring.Service) maintain.KeysFor {
	return func(keyID string) envelope.KeyService { return keyring.NewKeyService(svc, keyID) }
}
