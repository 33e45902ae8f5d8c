package maintain

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"

	"github.com/google/uuid"
	"golang.org/x/sys/unix"

	"github.com/kmsfs/kmsfs/envelope"
	"github.com/kmsfs/kmsfs/internal/fsutil"
)

// Errors of rewrapping.
var (
	// ErrBusy reports a file that the mount has open, so that rewrapping it
	// beside the mount's own header state could be undone by the mount's
	// next header write. The runner retries such files; see [Local].
	ErrBusy = errors.New("maintain: file is open in the mount; try again when it is closed")
	// ErrBadPath reports a path that is not a local path inside the
	// CIPHERDIR (absolute, "..", empty) or not a regular file.
	ErrBadPath = errors.New("maintain: not a regular file inside the cipher directory")
)

// Result says what rewrapping one file did.
type Result struct {
	// Changed is set when a new header slot was written and synced.
	Changed bool
	// Old and New are the master key versions that wrapped the DEK before
	// and after; both zero for an empty file, which has no header.
	Old, New envelope.KeyRef
}

// A Rewrapper rewraps one file's header so that its DEK is wrapped under
// the newest version of target's key. rel is the file's cipher path
// relative to the CIPHERDIR. A file already wrapped under target (or under
// a newer version of the same key) is left alone (Changed false).
//
// Two implementations exist: [Local], which rewrites the backing file
// itself (offline, and inside the mount process), and the control socket
// client ([DialControl]), which asks the mount to do it.
type Rewrapper interface {
	RewrapFile(ctx context.Context, rel string, target envelope.KeyRef) (Result, error)
}

// KeysFor returns a key service that unwraps any key version a header
// names and wraps new DEKs under the newest version of keyID (a key UUID).
// In kmsfs it is keyring.NewKeyService over the keyring.
type KeysFor func(keyID string) envelope.KeyService

// LocalOptions configures [NewLocal].
type LocalOptions struct {
	// RefuseOpenInProcess makes RewrapFile fail with ErrBusy while another
	// descriptor of this process refers to the file (an open file of the
	// mount this process serves), checking again after the header write and
	// reading the header back, so that a file the mount opened meanwhile is
	// retried rather than counted as rewrapped. It is how the mount process
	// serves rewraps until package fs can rewrap its open files itself.
	RefuseOpenInProcess bool
}

// Local rewraps files of a CIPHERDIR in this process with
// envelope.RewrapFile: only the header changes, into the slot that is not
// current, then the file is synced (FORMAT.md, "Rewriting the header"),
// and its mtime is put back, because the plaintext did not change.
// Concurrent calls for one inode are serialised. The syncs of concurrent
// calls are shared (one syncfs of the CIPHERDIR's filesystem for all of
// them), so a rewrap runs faster the more files it handles at once; see
// [RewrapJobs].
type Local struct {
	root  *treeRoot
	syncs *fsutil.SyncGroup
	keys  KeysFor
	opts  LocalOptions
	locks inodeLocks
	own   fdSet // descriptors this Local has open, not the mount's
}

var _ Rewrapper = (*Local)(nil)

// NewLocal returns a Local for the tree at cipherDir. Close it when done.
func NewLocal(cipherDir string, keys KeysFor, opts LocalOptions) (*Local, error) {
	root, err := openTreeRoot(cipherDir)
	if err != nil {
		return nil, err
	}
	syncs, err := fsutil.NewSyncGroup(cipherDir)
	if err != nil {
		root.Close()
		return nil, fmt.Errorf("maintain: %w", err)
	}
	return &Local{root: root, syncs: syncs, keys: keys, opts: opts}, nil
}

// Close releases the CIPHERDIR.
func (l *Local) Close() error {
	return errors.Join(l.syncs.Close(), l.root.Close())
}

// RewrapFile implements [Rewrapper].
func (l *Local) RewrapFile(ctx context.Context, rel string, target envelope.KeyRef) (Result, error) {
	f, st, err := l.open(rel)
	if err != nil {
		return Result{}, err
	}
	defer l.close(f)
	unlock := l.locks.lock(inodeKey{st.Dev, st.Ino})
	defer unlock()
	if err := l.checkNotOpen(f, rel); err != nil {
		return Result{}, err
	}
	res, err := rewrapOpen(ctx, fsutil.GroupSynced{File: f, Group: l.syncs}, st, l.keys(keyUUID(target)), target)
	if err != nil || !res.Changed || !l.opts.RefuseOpenInProcess {
		return res, err
	}
	return res, l.checkKept(f, rel, res.New)
}

// open opens rel read-write beneath the CIPHERDIR and checks that it is
// a regular file.
func (l *Local) open(rel string) (*os.File, *unix.Stat_t, error) {
	f, err := l.root.open(rel, os.O_RDWR)
	if err != nil {
		return nil, nil, err
	}
	l.own.add(int(f.Fd()))
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		l.close(f)
		return nil, nil, fmt.Errorf("maintain: stat %s: %w", rel, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		l.close(f)
		return nil, nil, fmt.Errorf("%w: %q", ErrBadPath, rel)
	}
	return f, &st, nil
}

func (l *Local) close(f *os.File) {
	fd := int(f.Fd())
	f.Close()
	l.own.remove(fd)
}

// checkNotOpen fails with ErrBusy if RefuseOpenInProcess is set and
// another descriptor of this process refers to f's inode.
func (l *Local) checkNotOpen(f *os.File, rel string) error {
	if !l.opts.RefuseOpenInProcess {
		return nil
	}
	open, err := openElsewhere(f, &l.own)
	if err != nil {
		return err
	}
	if open {
		return fmt.Errorf("%w: %s", ErrBusy, rel)
	}
	return nil
}

// checkKept makes sure a rewrap done beside the mount stuck: the file is
// not open now (so no stale header state can write over the new slot
// later) and the newest slot is the one just written (no such state wrote
// over it meanwhile). Otherwise the caller retries.
func (l *Local) checkKept(f *os.File, rel string, want envelope.KeyRef) error {
	if err := l.checkNotOpen(f, rel); err != nil {
		return err
	}
	refs, err := envelope.ReadSlotRefs(f)
	if err != nil {
		return err
	}
	if refs.Newest != want {
		return fmt.Errorf("%w: %s: header changed while rewrapping", ErrBusy, rel)
	}
	return nil
}

// rewrapOpen rewraps the open file f (stat st) to target with ks. A file
// already done (see done) is confirmed with one unwrap and left alone, so
// that a rerun costs no wrap and no write per file; any other goes to
// envelope.RewrapFile, which writes the new wrap into both slots, syncing
// in between through f's group.
func rewrapOpen(ctx context.Context, f fsutil.GroupSynced, st *unix.Stat_t, ks envelope.KeyService, target envelope.KeyRef) (Result, error) {
	if st.Size == 0 {
		return Result{}, nil // FORMAT.md, "Empty files": no header
	}
	if done(f.File, target) {
		h, err := envelope.ReadHeader(ctx, f, ks)
		if err != nil {
			return Result{}, err
		}
		if h.KeyRef == target {
			return Result{Old: target, New: target}, nil
		}
	}
	changed, old, new, err := envelope.RewrapFile(ctx, f, ks, ks, false)
	if err != nil || !changed {
		return Result{Old: old, New: new}, err
	}
	if err := restoreTimes(f.File, st); err != nil {
		return Result{}, err
	}
	// One sync makes both the new slot and the restored times durable.
	if err := f.Sync(); err != nil {
		return Result{}, fmt.Errorf("maintain: syncing %s: %w", f.Name(), err)
	}
	return Result{Changed: true, Old: old, New: new}, nil
}

// done reports whether both header slots of f are empty or name target,
// read structurally: then, once the current slot authenticates under
// target, no slot can hold a wrap under another key version (FORMAT.md
// §4.5, §5.3), and there is nothing to rewrite. envelope itself also
// requires the non-current slot's MAC; a slot that names target but
// fails its MAC could hold another version's wrap only if one 256-byte
// write tore inside its first 224 bytes, which sector-atomic storage does
// not do (slot A lies inside sector 0; sector 1 starts at slot B's MAC).
// An unparseable slot is not done: it goes to RewrapFile, which cleans it.
func done(f *os.File, target envelope.KeyRef) bool {
	refs, err := envelope.ReadSlotRefs(f)
	if err != nil || refs.Unparseable > 0 {
		return false
	}
	for _, r := range refs.All {
		if r != target {
			return false
		}
	}
	return true
}

// restoreTimes puts back the atime and mtime of st after a header-only
// write: the plaintext did not change, so neither may its mtime (make,
// rsync and backups rely on it). The ctime changes, as it must.
func restoreTimes(f *os.File, st *unix.Stat_t) error {
	ts := []unix.Timespec{st.Atim, st.Mtim}
	if err := unix.UtimesNanoAt(int(f.Fd()), "", ts, unix.AT_EMPTY_PATH); err != nil {
		return fmt.Errorf("maintain: restoring times of %s: %w", f.Name(), err)
	}
	return nil
}

// keyUUID formats a key reference's key ID as the UUID string the keyring
// takes.
func keyUUID(r envelope.KeyRef) string { return uuid.UUID(r.KeyID).String() }

// inodeKey names a backing inode.
type inodeKey struct{ dev, ino uint64 }

// inodeLocks serialises work on one inode (hard links share it).
type inodeLocks struct {
	mu sync.Mutex
	m  map[inodeKey]*inodeLock
}

type inodeLock struct {
	mu   sync.Mutex
	refs int
}

// lock locks k and returns its unlock function.
func (l *inodeLocks) lock(k inodeKey) func() {
	l.mu.Lock()
	if l.m == nil {
		l.m = map[inodeKey]*inodeLock{}
	}
	il := l.m[k]
	if il == nil {
		il = &inodeLock{}
		l.m[k] = il
	}
	il.refs++
	l.mu.Unlock()
	il.mu.Lock()
	return func() {
		il.mu.Unlock()
		l.mu.Lock()
		if il.refs--; il.refs == 0 {
			delete(l.m, k)
		}
		l.mu.Unlock()
	}
}

// fdSet is a set of descriptors, safe for concurrent use.
type fdSet struct {
	mu sync.Mutex
	m  map[int]bool
}

func (s *fdSet) add(fd int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[int]bool{}
	}
	s.m[fd] = true
}

func (s *fdSet) remove(fd int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, fd)
}

func (s *fdSet) has(fd int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[fd]
}

// openElsewhere reports whether a descriptor of this process other than
// those in own refers to f's inode, by looking at /proc/self/fd. It costs
// one stat per open descriptor of the process.
func openElsewhere(f *os.File, own *fdSet) (bool, error) {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return false, fmt.Errorf("maintain: stat %s: %w", f.Name(), err)
	}
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return false, fmt.Errorf("maintain: listing open files: %w", err)
	}
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err != nil || own.has(fd) {
			continue
		}
		var o unix.Stat_t
		if unix.Stat("/proc/self/fd/"+e.Name(), &o) == nil && o.Dev == st.Dev && o.Ino == st.Ino {
			return true, nil
		}
	}
	return false, nil
}

// RewrapTask returns the [Task] that rewraps every file of a tree with r
// to target; kmsfs metadata, strays and special files are skipped.
func RewrapTask(r Rewrapper, target envelope.KeyRef) Task {
	return func(ctx context.Context, e Entry, _ *Meter) (Outcome, error) {
		if e.Kind != KindFile {
			return Skipped, nil
		}
		res, err := r.RewrapFile(ctx, e.Rel, target)
		switch {
		case err != nil:
			return Skipped, err
		case res.Changed:
			return Changed, nil
		}
		return Current, nil
	}
}
