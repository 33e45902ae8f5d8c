package fs

import (
	"context"
	"errors"
	"sync"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"

	"github.com/kmsfs/kmsfs/internal/names"
)

// dirHandle lists a backing directory through the name codec, hiding the
// names kmsfs keeps for itself at the root. Directory offsets are the
// backing directory's, so seekdir/telldir work unchanged.
type dirHandle struct {
	inner  loopDir // go-fuse's loopback stream over the backing fd
	mu     sync.Mutex
	statFd int // a second descriptor of the directory, for fstat and Lookup; -1 once released
	r      *root
	n      *node  // the directory
	ref    dirRef // the backing directory, for the codec
	plain  string // plaintext path, for logs
	isRoot bool
	// lastName and lastBacking are the plaintext and backing names of the
	// entry Readdirent returned last, for Lookup. Guarded by mu.
	lastName, lastBacking string
}

// loopDir is what go-fuse's loopback directory stream offers.
type loopDir interface {
	gofs.DirStream
	gofs.FileReaddirenter
	gofs.FileSeekdirer
	gofs.FileFsyncdirer
}

var (
	_ = (gofs.FileReaddirenter)((*dirHandle)(nil))
	_ = (gofs.FileSeekdirer)((*dirHandle)(nil))
	_ = (gofs.FileReleasedirer)((*dirHandle)(nil))
	_ = (gofs.FileFsyncdirer)((*dirHandle)(nil))
	_ = (gofs.FileLookuper)((*dirHandle)(nil))
)

var _ = (gofs.NodeOpendirHandler)((*node)(nil))

// OpendirHandle opens the backing directory for listing. The kernel may
// keep the listing (FOPEN_CACHE_DIR) and serve later ones from it: it
// drops it when the directory changes through the mount or its mtime
// changes, and kmsfs is the only writer of CipherDir while mounted. A
// repeated `du` or `ls` of a tree then costs no request per directory.
func (n *node) OpendirHandle(ctx context.Context, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	plain, rel, errno := n.paths()
	if errno != 0 {
		return nil, 0, errno
	}
	fd, err := syscall.Open(n.r.abs(rel), syscall.O_DIRECTORY|syscall.O_RDONLY|syscall.O_CLOEXEC|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil, 0, n.r.fail(err, plain)
	}
	ds, errno := gofs.NewLoopbackDirStreamFd(fd)
	if errno != 0 {
		syscall.Close(fd)
		return nil, 0, errno
	}
	ld, ok := ds.(loopDir)
	if !ok {
		ds.Close()
		return nil, 0, syscall.EIO
	}
	sfd, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		ds.Close()
		return nil, 0, n.r.fail(err, plain)
	}
	d := &dirHandle{inner: ld, statFd: sfd, r: n.r, n: n, ref: n.ref(rel), plain: plain, isRoot: rel == "."}
	if err := n.r.names.check(d.ref); err != nil && n.r.warned.first("names:"+plain) {
		// Listed anyway: every entry under a marked name (NAMES.md §8, §9).
		n.r.log.Warn("kmsfs: directory names cannot be decrypted; entries are listed as "+names.MarkPrefix+"..., new entries are refused",
			"path", plain, "err", err)
	}
	return d, fuse.FOPEN_CACHE_DIR | fuse.FOPEN_KEEP_CACHE, 0
}

// Readdirent returns the next visible entry, its name decoded. The codec
// hides its own files (errSkipName); any other failure to decode is
// logged and the entry skipped (the encrypted codec never fails: it lists
// what it cannot decrypt under a marked name).
func (d *dirHandle) Readdirent(ctx context.Context) (*fuse.DirEntry, syscall.Errno) {
	for {
		de, errno := d.inner.Readdirent(ctx)
		if de == nil || errno != 0 {
			return de, errno
		}
		if de.Name == "." || de.Name == ".." {
			return de, 0
		}
		if d.isRoot && d.r.reserved[de.Name] {
			continue
		}
		name, err := d.r.names.decode(d.ref, de.Name)
		if errors.Is(err, errSkipName) {
			continue
		}
		if err != nil {
			d.r.fail(err, join(d.plain, de.Name))
			continue
		}
		d.mu.Lock()
		d.lastName, d.lastBacking = name, de.Name
		d.mu.Unlock()
		de.Name = name
		return de, 0
	}
}

// Lookup serves the lookup that go-fuse makes for each entry of a
// READDIRPLUS listing, right after Readdirent returned it (or, when the
// entry did not fit the reply, at the start of the next one). Its backing
// name is known then, so it is stat'ed relative to the open directory:
// neither the name is encrypted again nor the path walked from CipherDir.
// Any other name goes through the directory node's Lookup.
func (d *dirHandle) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	d.mu.Lock()
	backing, fd := d.lastBacking, d.statFd
	known := name == d.lastName && backing != "" && fd >= 0
	d.mu.Unlock()
	if !known {
		return d.n.Lookup(ctx, name, out)
	}
	// d.mu is not held across the stat, which may wait for a child's open
	// state (lstatStableAt): a GETATTR of the directory must not wait
	// behind a child's fsync. fd stays open meanwhile: the kernel sends
	// RELEASEDIR only once no request on the handle is running.
	var st stat
	err := d.r.lstatStableAt(fd, backing, fileKey{}, &st)
	plain := join(d.plain, name)
	if err != nil {
		return nil, d.r.fail(err, plain)
	}
	return d.n.newChild(ctx, &st, plain, out), 0
}

func (d *dirHandle) Seekdir(ctx context.Context, off uint64) syscall.Errno {
	return d.inner.Seekdir(ctx, off)
}

func (d *dirHandle) Releasedir(ctx context.Context, flags uint32) {
	d.inner.Close()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.statFd >= 0 {
		unix.Close(d.statFd)
		d.statFd = -1
	}
}

// getattr stats the open directory itself, so that fstat works after the
// directory was renamed over or removed.
func (d *dirHandle) getattr(out *fuse.AttrOut) syscall.Errno {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.statFd < 0 {
		return syscall.EBADF
	}
	var st stat
	if err := fstatFd(d.statFd, &st); err != nil {
		return d.r.fail(err, d.plain)
	}
	out.FromStat(&st.Stat_t)
	return 0
}

func (d *dirHandle) Fsyncdir(ctx context.Context, flags uint32) syscall.Errno {
	return d.inner.Fsyncdir(ctx, flags)
}
