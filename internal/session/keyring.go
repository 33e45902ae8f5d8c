package session

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/kmsfs/kmsfs/keyring"
	"github.com/kmsfs/kmsfs/keyring/kmsapi"
	"github.com/kmsfs/kmsfs/keyring/local"
)

// DefaultRotationInterval is how often an owned keyring applies due
// automatic rotations and deletions. Keys in use are also checked on each
// use; the ticker makes idle keys rotate on time too.
const DefaultRotationInterval = time.Hour

// KeyringOptions configure [ReachKeyring].
type KeyringOptions struct {
	Logger *slog.Logger
	// RotationInterval is the period of the rotation ticker; zero means
	// DefaultRotationInterval.
	RotationInterval time.Duration
}

// Keyring is the key service a mount holds: either the keyring it owns
// (opened in this process, served on the keyring socket for the CLI and
// other mounts, with a rotation ticker), or a client of the process that
// owns it.
type Keyring struct {
	keyring.Service
	dir   string
	owned *local.Keyring
	stop  []func() error
}

// ReachKeyring reaches the keyring in dir: through the socket of the
// process that owns it when one answers, else by calling open and serving
// what it opens on the socket.
func ReachKeyring(dir string, open func() (*local.Keyring, error), o KeyringOptions) (*Keyring, error) {
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	sock := kmsapi.SocketPath(dir)
	if client, err := kmsapi.Dial(sock); err == nil {
		release, err := registerDependent(dir)
		if err != nil {
			client.Close()
			return nil, err
		}
		remote := &remoteKeys{Service: client, sock: sock, logger: logger}
		return &Keyring{Service: remote, dir: dir, stop: []func() error{client.Close, release}}, nil
	}
	kr, err := open()
	if err != nil {
		return nil, err
	}
	ln, err := kmsapi.ListenUnix(sock, kmsapi.NewHandler(kr, kmsapi.HandlerOptions{}))
	if err != nil {
		kr.Close()
		return nil, fmt.Errorf("keyring socket: %w", err)
	}
	logger.Info("serving keyring", "socket", sock)
	interval := o.RotationInterval
	if interval <= 0 {
		interval = DefaultRotationInterval
	}
	stopTicker := StartRotation(kr, interval, logger)
	// Stopped in order: no new socket callers, no more ticks, then the
	// keyring itself.
	return &Keyring{Service: kr, dir: dir, owned: kr, stop: []func() error{ln.Close, stopTicker, kr.Close}}, nil
}

// Local returns the keyring this process owns, or nil when it reaches
// another process's.
func (k *Keyring) Local() *local.Keyring { return k.owned }

// Close releases the keyring: stops serving it and closes it, or closes
// the client.
func (k *Keyring) Close() error {
	var errs []error
	for _, f := range k.stop {
		errs = append(errs, f())
	}
	return errors.Join(errs...)
}

// Rotator applies due automatic rotations and scheduled deletions; the
// local keyring is one.
type Rotator interface {
	RotateDue(ctx context.Context) (int, error)
}

// StartRotation calls r.RotateDue every interval until the returned stop
// is called, so that keys with automatic rotation rotate on time while a
// keyring is served, whether or not they are used.
func StartRotation(r Rotator, interval time.Duration, logger *slog.Logger) (stop func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				n, err := r.RotateDue(ctx)
				if err != nil && !errors.Is(err, context.Canceled) {
					logger.Warn("automatic rotation failed", "err", err)
				} else if n > 0 {
					logger.Info("rotated keys due for automatic rotation", "keys", n)
				}
			}
		}
	}()
	return func() error {
		cancel()
		<-done
		return nil
	}
}
