package fs

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/kmsfs/kmsfs/envelope"
	"github.com/kmsfs/kmsfs/internal/fsutil"
	"github.com/kmsfs/kmsfs/internal/names"
)

// The link key of a plaintext-names volume (docs/NAMES.md §10.1): 32
// random bytes that authenticate the symlinks the mount makes. It lives at
// the root of CipherDir as an ordinary kmsfs file, so it is encrypted and
// authenticated under the volume's master key like every file, and a
// rewrap or fsck covers it. The mount writes it with the first symlink it
// makes, and reads it with the first symlink it follows.
const (
	linkKeyFile = "kmsfs.linkkey"
	linkKeyTemp = linkKeyFile + ".tmp" // written, synced, then linked to linkKeyFile
)

// errBadLinkKey reports a link key file that opens but does not hold a key.
var errBadLinkKey = errors.New("fs: link key file damaged")

// linkKey loads and caches the volume's link marker.
type linkKey struct {
	mu sync.Mutex
	m  *names.LinkMarker // nil until loaded
	// absent records that the key file did not exist, so that every
	// readlink of an old volume does not try to open it again; only this
	// mount creates it, under mu.
	absent bool
}

// marker returns the volume's link marker. Without a link key file it
// returns (nil, nil), or with create, makes one first.
func (r *root) marker(ctx context.Context, create bool) (*names.LinkMarker, error) {
	lk := &r.links
	lk.mu.Lock()
	defer lk.mu.Unlock()
	if lk.m != nil || (lk.absent && !create) {
		return lk.m, nil
	}
	ctx = context.WithoutCancel(ctx) // a remote KMS call must not be cut half-way
	key, err := r.readLinkKey(ctx)
	if errors.Is(err, fs.ErrNotExist) && create {
		key, err = r.writeLinkKey(ctx)
	}
	if errors.Is(err, fs.ErrNotExist) {
		lk.absent = true
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer clear(key)
	if lk.m, err = names.NewLinkMarker(key); err != nil {
		return nil, fmt.Errorf("%w: %w", errBadLinkKey, err)
	}
	return lk.m, nil
}

// readLinkKey reads the link key file.
func (r *root) readLinkKey(ctx context.Context) ([]byte, error) {
	f, err := r.openNoatime(linkKeyFile, os.O_RDONLY)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	ef, err := envelope.Open(ctx, readOnlyBacking{f}, r.keys, r.chunk)
	if err != nil {
		return nil, fmt.Errorf("fs: link key %s: %w", linkKeyFile, err)
	}
	defer ef.Close()
	if ef.Size() != names.KeySize {
		return nil, fmt.Errorf("%w: %d bytes", errBadLinkKey, ef.Size())
	}
	key := make([]byte, names.KeySize)
	if _, err := ef.ReadAt(key, 0); err != nil && !errors.Is(err, io.EOF) {
		clear(key)
		return nil, fmt.Errorf("fs: link key %s: %w", linkKeyFile, err)
	}
	return key, nil
}

// writeLinkKey makes a new link key file: written and synced under a
// temporary name, then linked into place, which fails if a key appeared
// meanwhile, so an existing key is never replaced.
func (r *root) writeLinkKey(ctx context.Context) ([]byte, error) {
	if r.readOnly { // Symlink refuses first; never report "no key" here
		return nil, syscall.EROFS
	}
	key := make([]byte, names.KeySize)
	_, _ = rand.Read(key) // never fails (crypto/rand.Read doc)
	if err := r.writeLinkTemp(ctx, key); err != nil {
		clear(key)
		return nil, err
	}
	defer unix.Unlinkat(r.dirfd, linkKeyTemp, 0)
	if err := unix.Linkat(r.dirfd, linkKeyTemp, r.dirfd, linkKeyFile, 0); err != nil {
		clear(key)
		if errors.Is(err, unix.EEXIST) {
			return r.readLinkKey(ctx)
		}
		return nil, fmt.Errorf("fs: link key %s: %w", linkKeyFile, err)
	}
	if err := fsutil.SyncDir(r.dir); err != nil {
		clear(key)
		return nil, err
	}
	return key, nil
}

// writeLinkTemp writes key as a kmsfs file under linkKeyTemp and syncs it.
func (r *root) writeLinkTemp(ctx context.Context, key []byte) error {
	f, err := fsutil.OpenBeneath(r.dirfd, r.dir, linkKeyTemp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	ef, err := envelope.Create(ctx, f, r.keys, r.chunk)
	if err == nil {
		_, err = ef.WriteAt(key, 0)
		if cerr := ef.Close(); err == nil {
			err = cerr
		}
	}
	if err == nil {
		err = f.Sync()
	}
	if err != nil {
		return fmt.Errorf("fs: writing link key: %w", err)
	}
	return nil
}

// readOnlyBacking is an envelope.Backing over a file opened for reading.
type readOnlyBacking struct{ *os.File }

func (b readOnlyBacking) WriteAt([]byte, int64) (int, error) { return 0, errBadLinkKey }
func (b readOnlyBacking) Truncate(int64) error               { return errBadLinkKey }
