package fs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/kmsfs/kmsfs/envelope"
	"github.com/kmsfs/kmsfs/internal/fsutil"
)

// ErrBadPath is returned by [Root.RewrapFile] for a path that is not a
// local path inside the CIPHERDIR (absolute, "..", a symlink on the way)
// or does not name a regular file.
var ErrBadPath = errors.New("fs: not a regular file inside the cipher directory")

// Root is a mounted volume seen from the mount process, for the work
// done beside FUSE requests (the control socket's rewraps). [Mount]
// returns it.
type Root struct{ r *root }

// RewrapFile rewraps the data key of the file at rel, a cipher path
// relative to the CIPHERDIR, with w (FORMAT.md §5.3): only the header
// changes, into both slots, and the backing mtime is kept, because the
// plaintext did not change. It reports the key versions before and after
// (both zero for an empty file, which has no header).
//
// A file the mount has open is rewrapped through its shared open state
// (envelope.File.Rewrap), so that the state's cached header follows the
// new one and its next header write cannot bring back the old wrap. A
// file not open is rewritten directly while its inode is reserved in the
// open-file table, so that no open can read the header half-way.
func (rt *Root) RewrapFile(ctx context.Context, rel string, w envelope.KeyWrapper) (changed bool, old, new envelope.KeyRef, err error) {
	f, st, err := rt.r.openForRewrap(rel)
	if err != nil {
		return false, old, new, err
	}
	of, done := rt.r.files.hold(keyOf(&st.Stat_t))
	if of != nil {
		f.Close()
		defer rt.r.release(of, rel)
		return rt.r.rewrapShared(ctx, of, w)
	}
	defer done()
	defer f.Close()
	return rt.r.rewrapBacking(ctx, f, st, w)
}

// openForRewrap opens the regular file rel read-write beneath CipherDir,
// following no symlink.
func (r *root) openForRewrap(rel string) (*os.File, *stat, error) {
	if !filepath.IsLocal(rel) {
		return nil, nil, fmt.Errorf("%w: %q", ErrBadPath, rel)
	}
	f, err := r.openNoatime(filepath.Clean(rel), os.O_RDWR)
	if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.EXDEV) || errors.Is(err, unix.EISDIR) {
		return nil, nil, fmt.Errorf("%w: %q: %w", ErrBadPath, rel, err)
	}
	if err != nil {
		return nil, nil, err
	}
	var st stat
	if err := fstatFd(int(f.Fd()), &st); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("fs: stat %s: %w", rel, err)
	}
	if !isReg(st.Mode) {
		f.Close()
		return nil, nil, fmt.Errorf("%w: %q", ErrBadPath, rel)
	}
	return f, &st, nil
}

// rewrapShared rewraps an open file through its shared state, under the
// state's exclusive lock: no write or size change runs meanwhile.
func (r *root) rewrapShared(ctx context.Context, of *openFile, w envelope.KeyWrapper) (changed bool, old, new envelope.KeyRef, err error) {
	if err := r.files.wait(of); err != nil {
		return false, old, new, err
	}
	// A read-only first open left the shared descriptor read-only.
	if err := of.b.upgrade(); err != nil {
		return false, old, new, err
	}
	of.mu.Lock()
	defer of.mu.Unlock()
	old = of.ef.KeyRef()
	err = of.keepMtime(func() error {
		var err error
		changed, err = of.ef.Rewrap(ctx, w)
		return err
	})
	if err == nil && changed {
		// Rewrap synced the slots; this makes the kept mtime durable too.
		err = of.b.Sync()
	}
	return changed, old, of.ef.KeyRef(), err
}

// rewrapBacking rewraps a file that is not open, then puts its atime and
// mtime back and syncs once for both. Its syncs join those of the rewraps
// running beside it (fsutil.SyncGroup): one syncfs for all of them.
func (r *root) rewrapBacking(ctx context.Context, f *os.File, st *stat, w envelope.KeyWrapper) (changed bool, old, new envelope.KeyRef, err error) {
	b := fsutil.GroupSynced{File: f, Group: r.syncs}
	changed, old, new, err = envelope.RewrapFile(ctx, b, r.keys, w, false)
	if err != nil || !changed {
		return changed, old, new, err
	}
	ts := [2]unix.Timespec{unix.Timespec(st.Atim), unix.Timespec(st.Mtim)}
	if err := futimens(int(f.Fd()), &ts); err != nil {
		return false, old, old, fmt.Errorf("fs: restoring times of %s: %w", f.Name(), err)
	}
	if err := b.Sync(); err != nil {
		return false, old, old, fmt.Errorf("fs: syncing %s: %w", f.Name(), err)
	}
	return true, old, new, nil
}
