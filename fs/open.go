package fs

import (
	"context"
	"errors"
	"os"
	"sync/atomic"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"

	"github.com/kmsfs/kmsfs/envelope"
	"github.com/kmsfs/kmsfs/internal/fsutil"
)

// openat opens rel beneath CipherDir without following any symlink, so that
// no name in CipherDir can lead a file open outside it.
func (r *root) openat(rel string, flags int, mode uint32) (*os.File, error) {
	return fsutil.OpenBeneath(r.dirfd, r.dir, rel, flags, mode)
}

// openNoatime opens an existing file with O_NOATIME where allowed: our own
// reads (the header at open, read-modify-write of partial chunks) are not
// accesses by a program, and open(2) alone must not change atime.
func (r *root) openNoatime(rel string, flags int) (*os.File, error) {
	return fsutil.OpenNoatime(r.dirfd, r.dir, rel, flags)
}

// openBacking opens the backing file read-write when it can, so that the
// shared state serves later writers without an upgrade; read-only when
// writing is refused and write is not needed.
func (r *root) openBacking(rel string, write bool) (*backing, *stat, error) {
	f, err := (*os.File)(nil), error(nil)
	writable := !r.readOnly
	if writable {
		f, err = r.openNoatime(rel, os.O_RDWR)
		if err != nil && !write && (errors.Is(err, unix.EACCES) || errors.Is(err, unix.EROFS) || errors.Is(err, unix.EPERM)) {
			writable = false
		}
	}
	if !writable {
		f, err = r.openNoatime(rel, os.O_RDONLY)
	}
	if err != nil {
		return nil, nil, err
	}
	var st stat
	if err := fstatFd(int(f.Fd()), &st); err != nil {
		f.Close()
		return nil, nil, err
	}
	if !isReg(st.Mode) {
		f.Close()
		return nil, nil, syscall.EINVAL
	}
	return newBacking(f, writable, &st), &st, nil
}

// testOnlyAfterOpenBacking, when set, runs in acquire between the backing
// file's open (and stat) and the open-table insert, where a test puts the
// whole life of another open of the same inode.
var testOnlyAfterOpenBacking atomic.Pointer[func()]

// acquire returns the shared open state of regular file n with one more
// reference, opening the backing file and its envelope when it has none.
// The caller must release it.
func (n *node) acquire(ctx context.Context, write bool) (*openFile, syscall.Errno) {
	plain, rel, errno := n.paths()
	if errno != 0 {
		plain = "(unlinked)"
	}
	if n.key != (fileKey{}) {
		if of := n.r.files.ref(n.key); of != nil {
			return n.ready(of, write, plain)
		}
	}
	if errno != 0 {
		return nil, errno
	}
	removals := n.r.files.removals.Load()
	b, st, err := n.r.openBacking(rel, write)
	if err != nil {
		return nil, n.r.fail(err, plain)
	}
	if hook := testOnlyAfterOpenBacking.Load(); hook != nil {
		(*hook)()
	}
	if n.key != (fileKey{}) && keyOf(&st.Stat_t) != n.key {
		// The name now holds another file (a rename raced with us). The
		// kernel retries the lookup on ESTALE.
		b.close()
		return nil, syscall.ESTALE
	}
	of, created := n.r.files.add(keyOf(&st.Stat_t), b)
	if !created {
		b.close()
		return n.ready(of, write, plain)
	}
	if n.r.files.removals.Load() != removals {
		// An open state of this inode may have come, written and gone
		// since openBacking's stat: envelope must not take that size.
		if err := b.restat(st); err != nil {
			n.r.files.finish(of, nil, err)
			n.r.release(of, plain)
			return nil, n.r.fail(err, plain)
		}
	}
	// The key service may be remote: do not let a signal to the caller
	// (Go's preemption signals count) abort the unwrap half-way.
	ef, err := envelope.Open(context.WithoutCancel(ctx), b, n.r.keys, n.r.chunk)
	if err == nil {
		n.r.noteFallback(ef, plain)
	}
	// Not from st: a chmod through the mount while the key service
	// answered set the flag, and a stale false would stick. The first
	// write or truncation looks at the file's real mode (dropPrivs).
	of.privs.Store(true)
	n.r.files.finish(of, ef, err)
	return n.ready(of, write, plain)
}

// ready waits for of to be open and makes it writable if needed; on
// failure it drops the reference taken for the caller.
func (n *node) ready(of *openFile, write bool, plain string) (*openFile, syscall.Errno) {
	err := n.r.files.wait(of)
	if err == nil && write {
		err = of.b.upgrade()
	}
	if err != nil {
		n.r.release(of, plain)
		return nil, n.r.fail(err, plain)
	}
	return of, 0
}

// release drops a reference to of, logging a failure to close.
func (r *root) release(of *openFile, plain string) {
	if err := r.files.release(of); err != nil {
		r.fail(err, plain)
	}
}

// isWrite reports whether open flags ask for writing.
func isWrite(flags uint32) bool {
	return flags&syscall.O_ACCMODE != syscall.O_RDONLY
}

var _ = (gofs.NodeOpener)((*node)(nil))

// Open opens a regular file. O_APPEND is kept in the handle (appends are
// done at the plaintext size), O_TRUNC goes through the envelope; the
// backing file is always opened without either.
func (n *node) Open(ctx context.Context, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	write := isWrite(flags) || flags&syscall.O_TRUNC != 0
	if write {
		if errno := n.r.writable(); errno != 0 {
			return nil, 0, errno
		}
	}
	of, errno := n.acquire(ctx, write)
	if errno != 0 {
		return nil, 0, errno
	}
	h := &handle{n: n, of: of, append: flags&syscall.O_APPEND != 0, direct: flags&syscall.O_DIRECT != 0}
	if flags&syscall.O_TRUNC != 0 {
		if errno := h.truncate(0); errno != 0 {
			h.Release(ctx)
			return nil, 0, errno
		}
	}
	return h, shortFlags(of) | directFlags(flags) | readOnlyFlags(write), 0
}

// readOnlyFlags returns FOPEN_NOFLUSH for a handle that cannot write: its
// close(2) then costs no FLUSH request (one of the five requests of a
// `cat` or a grep per file). Its Flush has nothing of its own to commit,
// and a writer's own FLUSH and RELEASE still commit what it wrote. A
// writable handle keeps FLUSH: the kernel writes a shared mapping's dirty
// pages back there, and only there without the writeback cache (it skips
// them on close with FOPEN_NOFLUSH).
func readOnlyFlags(write bool) uint32 {
	if write {
		return 0
	}
	return fuse.FOPEN_NOFLUSH
}

// directFlags returns the open flags of a handle opened with O_DIRECT:
// FOPEN_DIRECT_IO, so that the kernel sends its writes straight to us
// rather than through its O_DIRECT path for cached files, and
// FOPEN_PARALLEL_DIRECT_WRITES, so that writes inside the file run
// concurrently (envelope locks per chunk). The kernel's cached-file path
// takes the inode lock for every write, so random writes did not scale
// past one at a time. The kernel keeps page-cache users of
// the inode coherent with such handles (it falls back to exclusive writes
// while a cached open exists); the cost is that a MAP_SHARED mmap of an
// O_DIRECT descriptor fails with ENODEV (go-fuse does not negotiate
// FUSE_DIRECT_IO_ALLOW_MMAP).
func directFlags(flags uint32) uint32 {
	if flags&syscall.O_DIRECT != 0 {
		return fuse.FOPEN_DIRECT_IO | fuse.FOPEN_PARALLEL_DIRECT_WRITES
	}
	return 0
}

// shortFlags returns the open flags of a handle on of: FOPEN_DIRECT_IO for
// a short file (FORMAT.md §8). The kernel never reads past st_size, so
// through the page cache a program would read the data present and see a
// clean end of file; read directly, the read that reaches the end gets
// EIO, as envelope reports it (ErrTruncated).
func shortFlags(of *openFile) uint32 {
	if of.ef.Truncation() != nil {
		return fuse.FOPEN_DIRECT_IO
	}
	return 0
}

var _ = (gofs.NodeCreater)((*node)(nil))

// Create makes a new file with a fresh data key. The backing file is made
// exclusively, so a new header is only ever written into a new, empty
// file; if the name exists and O_EXCL was not asked for, the existing file
// is opened instead. The header is written by the first write
// (envelope.CreateDeferred): until then the backing file is empty, a valid
// empty file, and a small file written once gets its header, data and
// committed size in one backing write (envelope.File.WriteAtFloor).
func (n *node) Create(ctx context.Context, name string, flags uint32, mode uint32, out *fuse.EntryOut) (*gofs.Inode, gofs.FileHandle, uint32, syscall.Errno) {
	if errno := n.r.writable(); errno != 0 {
		return nil, nil, 0, errno
	}
	plain, rel, undoName, errno := n.newName(name)
	if errno != 0 {
		return nil, nil, 0, errno
	}
	f, err := n.r.openat(rel, os.O_RDWR|os.O_CREATE|os.O_EXCL, mode&07777)
	if errors.Is(err, unix.EEXIST) && flags&syscall.O_EXCL == 0 {
		undoName()
		return n.createExisting(ctx, name, flags, out)
	}
	if err != nil {
		undoName()
		return nil, nil, 0, n.r.fail(err, plain)
	}
	st, of, err := n.initNew(ctx, f, mode)
	if err != nil {
		_ = unix.Unlink(n.r.abs(rel))
		undoName()
		return nil, nil, 0, n.r.fail(err, plain)
	}
	of.privs.Store(hasPrivs(mode))
	ch := n.newChild(ctx, st, plain, out)
	h := &handle{n: ch.Operations().(*node), of: of, append: flags&syscall.O_APPEND != 0, direct: flags&syscall.O_DIRECT != 0}
	return ch, h, directFlags(flags), 0
}

// initNew gives a just-made empty backing file its envelope (a fresh data
// key, written with the first write), owner and mode, and registers its
// open state. Its one stat serves the kernel and envelope's size check:
// nothing is written before the first write.
func (n *node) initNew(ctx context.Context, f *os.File, mode uint32) (*stat, *openFile, error) {
	var st stat
	if err := fstatFd(int(f.Fd()), &st); err != nil {
		f.Close()
		return nil, nil, err
	}
	b := newBacking(f, true, &st)
	ef, err := envelope.CreateDeferred(context.WithoutCancel(ctx), b, n.r.keys, n.r.chunk)
	if err == nil {
		err = n.r.claim(ctx, int(f.Fd()), "", &st, mode, true)
	}
	if err != nil {
		if ef != nil {
			ef.Close()
		}
		b.close()
		return nil, nil, err
	}
	of, created := n.r.files.add(keyOf(&st.Stat_t), b)
	if !created {
		// Impossible: the inode is new. Refuse rather than share.
		n.r.files.release(of)
		ef.Close()
		b.close()
		return nil, nil, syscall.EIO
	}
	n.r.files.finish(of, ef, nil)
	return &st, of, nil
}

// createExisting serves a Create whose name turned out to exist (the
// kernel's view was stale, or a race): open the file as open(2) would.
func (n *node) createExisting(ctx context.Context, name string, flags uint32, out *fuse.EntryOut) (*gofs.Inode, gofs.FileHandle, uint32, syscall.Errno) {
	ch, errno := n.Lookup(ctx, name, out)
	if errno != 0 {
		return nil, nil, 0, errno
	}
	cn := ch.Operations().(*node)
	if !isReg(cn.Mode()) {
		return nil, nil, 0, syscall.EEXIST
	}
	h, fl, errno := cn.Open(ctx, flags&^syscall.O_CREAT)
	if errno != 0 {
		return nil, nil, 0, errno
	}
	return ch, h, fl, 0
}

// noteFallback logs, once per file, a header read from its older slot
// because the newest failed authentication: readers fall back silently,
// and the older slot's lower size floor can hide a truncation (kmsfs fsck
// reports it too, and --repair rewrites both slots).
func (r *root) noteFallback(ef *envelope.File, plain string) {
	fb, ok := ef.SlotFallback()
	if !ok || !r.warned.first("slot\x00"+plain) {
		return
	}
	r.log.Warn("kmsfs: newest header slot fails authentication; using the older slot (run kmsfs fsck)",
		"path", plain, "failed_generation", fb.FailedGeneration, "used_generation", fb.UsedGeneration)
}
