package session

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync/atomic"
	"syscall"

	"github.com/kmsfs/kmsfs/keyring"
)

// ErrKeyServiceGone means the process that serves this mount's keyring
// (another mount, through its socket) cannot be reached any more: it died
// or was killed. The filesystem shows it as EIO, like any key it cannot
// have; the mount logs it once per outage.
var ErrKeyServiceGone = errors.New("session: the process serving the keyring cannot be reached")

// remoteKeys is the key service of a mount that reaches its keyring
// through another process's socket. A transport failure there carries the
// dial's errno (ECONNREFUSED, ENOENT), and package fs takes any errno in an
// error's chain as the truth: an open would fail with ENOENT, "no such
// file", for a file that exists. So transport failures of the calls a
// mount makes become ErrKeyServiceGone, which hides the errno, and are
// logged.
type remoteKeys struct {
	keyring.Service
	sock   string
	logger *slog.Logger
	down   atomic.Bool // an outage is being reported; reset by a success
}

// WrapDEK wraps through the owner.
func (r *remoteKeys) WrapDEK(ctx context.Context, in *keyring.WrapDEKInput) (*keyring.WrapDEKOutput, error) {
	out, err := r.Service.WrapDEK(ctx, in)
	return out, r.check(err)
}

// UnwrapDEK unwraps through the owner.
func (r *remoteKeys) UnwrapDEK(ctx context.Context, in *keyring.UnwrapDEKInput) (*keyring.UnwrapDEKOutput, error) {
	out, err := r.Service.UnwrapDEK(ctx, in)
	return out, r.check(err)
}

// DescribeKey asks the owner.
func (r *remoteKeys) DescribeKey(ctx context.Context, in *keyring.KeyIDInput) (*keyring.KeyMetadataOutput, error) {
	out, err := r.Service.DescribeKey(ctx, in)
	return out, r.check(err)
}

// check turns a transport failure into ErrKeyServiceGone and logs the
// first of an outage; the keyring's own answers pass unchanged.
func (r *remoteKeys) check(err error) error {
	if err == nil {
		if r.down.Swap(false) {
			r.logger.Info("the keyring's serving process answers again", "socket", r.sock)
		}
		return nil
	}
	if !transportFailure(err) {
		return err
	}
	if !r.down.Swap(true) {
		r.logger.Warn("the process serving the keyring is gone; files that need a key fail with EIO until this mount is remounted",
			"socket", r.sock, "err", err)
	}
	// %v, not %w: the errno of the dial must not reach package fs.
	return fmt.Errorf("%w (%s: %v)", ErrKeyServiceGone, r.sock, err)
}

// transportFailure reports whether err is a failure to reach the server
// rather than its answer: an errno or a network error, with no keyring
// sentinel and no cancellation of the caller's.
func transportFailure(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var en syscall.Errno
	var ne net.Error
	return errors.As(err, &en) || errors.As(err, &ne)
}
