package volume

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// ErrInUse is returned by [Lock] for an exclusive lock while a mount holds
// the volume: a whole-tree job must not rewrite headers under it.
var ErrInUse = errors.New("volume: the directory is mounted (unmount it first)")

// Lock takes a lock on dir's config file: shared for a mount, exclusive
// (and never waiting) for an offline job that rewrites headers. A mount of
// a remote-KMS volume has no control socket to take such jobs through, so
// the lock is how they tell it is there. The lock goes with the process,
// so a killed mount leaves none behind.
func Lock(dir string, exclusive bool) (unlock func() error, err error) {
	f, err := os.Open(filepath.Join(dir, ConfigName))
	if err != nil {
		return nil, fmt.Errorf("volume: %w", err)
	}
	how := unix.LOCK_SH | unix.LOCK_NB
	if exclusive {
		how = unix.LOCK_EX | unix.LOCK_NB
	}
	if err := unix.Flock(int(f.Fd()), how); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("%s: %w", dir, ErrInUse)
		}
		return nil, fmt.Errorf("volume: locking %s: %w", dir, err)
	}
	return f.Close, nil
}
