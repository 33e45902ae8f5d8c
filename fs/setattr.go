package fs

import (
	"context"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

// attrTarget is where Setattr changes metadata: the open descriptor when
// the kernel sends a handle (fchmod, ftruncate on an unlinked file), else
// the path.
type attrTarget interface {
	chmod(mode uint32) error
	chown(uid, gid int) error
	utimens(ts []unix.Timespec) error
}

type pathTarget struct {
	path    string
	symlink bool
}

func (p pathTarget) chmod(mode uint32) error {
	if p.symlink {
		return unix.Fchmodat(unix.AT_FDCWD, p.path, mode, unix.AT_SYMLINK_NOFOLLOW)
	}
	return unix.Chmod(p.path, mode)
}

func (p pathTarget) chown(uid, gid int) error {
	return unix.Fchownat(unix.AT_FDCWD, p.path, uid, gid, unix.AT_SYMLINK_NOFOLLOW)
}

func (p pathTarget) utimens(ts []unix.Timespec) error {
	return unix.UtimesNanoAt(unix.AT_FDCWD, p.path, ts, unix.AT_SYMLINK_NOFOLLOW)
}

type fdTarget struct{ b *backing }

func (t fdTarget) chmod(mode uint32) error {
	return t.b.withFd(func(fd int) error { return unix.Fchmod(fd, mode) })
}

func (t fdTarget) chown(uid, gid int) error {
	return t.b.withFd(func(fd int) error { return unix.Fchown(fd, uid, gid) })
}

func (t fdTarget) utimens(ts []unix.Timespec) error {
	return t.b.withFd(func(fd int) error { return futimens(fd, (*[2]unix.Timespec)(ts)) })
}

var _ = (gofs.NodeSetattrer)((*node)(nil))

// Setattr changes mode, owner, size and times, in that order: the size
// before the times, so that an explicit mtime is not clobbered by the
// truncate. A size change goes through the shared envelope.File.
func (n *node) Setattr(ctx context.Context, f gofs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if errno := n.r.writable(); errno != 0 {
		return errno
	}
	plain, rel, errno := n.paths()
	if plain == "" {
		plain = "(unlinked)"
	}
	h, _ := f.(*handle)
	if h == nil {
		// The kernel sends a handle only with ftruncate. A file some
		// handle has open (tar's fchown, fchmod and futimens between its
		// writes and its close) is changed and stat'ed through the open
		// descriptor: no path walk, and one fstat where a stat by path
		// of an open file takes two (lstatStable).
		if of := n.openState(); of != nil {
			defer n.r.release(of, plain)
			h = &handle{n: n, of: of}
		}
	}
	var tgt attrTarget
	switch {
	case h != nil:
		tgt = fdTarget{h.of.b}
	case errno != 0:
		return errno
	default:
		tgt = pathTarget{path: n.r.abs(rel), symlink: n.Mode()&syscall.S_IFMT == syscall.S_IFLNK}
	}
	if err := setModeOwner(tgt, in); err != nil {
		return n.r.fail(err, plain)
	}
	if mode, ok := in.GetMode(); ok {
		n.notePrivs(h, mode)
	}
	if size, ok := in.GetSize(); ok {
		if errno := n.truncate(ctx, h, int64(size), in.Valid&fattrKillSUIDGID != 0, plain); errno != 0 {
			return errno
		}
	}
	if err := setTimesOf(h, tgt, in); err != nil {
		return n.r.fail(err, plain)
	}
	if h != nil {
		return h.getattr(out)
	}
	return n.Getattr(ctx, f, out)
}

// openState returns the open, ready state of n's file with a reference
// the caller releases, or nil when there is none. It never waits: not for
// an open still unwrapping its key, nor for a closing state or a rewrap's
// reservation.
func (n *node) openState() *openFile {
	if n.key == (fileKey{}) {
		return nil
	}
	return n.r.files.refReady(n.key)
}

// notePrivs tells the open state of n, if any, whether its new mode has
// bits a direct write must clear (openFile.dropPrivs).
func (n *node) notePrivs(h *handle, mode uint32) {
	of := (*openFile)(nil)
	switch {
	case h != nil:
		of = h.of
	case n.key != (fileKey{}):
		of = n.r.files.find(n.key)
	}
	if of != nil {
		of.privs.Store(hasPrivs(mode))
	}
}

func setModeOwner(t attrTarget, in *fuse.SetAttrIn) error {
	if mode, ok := in.GetMode(); ok {
		if err := t.chmod(mode & 07777); err != nil {
			return err
		}
	}
	uid, uok := in.GetUID()
	gid, gok := in.GetGID()
	if !uok && !gok {
		return nil
	}
	u, g := -1, -1
	if uok {
		u = int(uid)
	}
	if gok {
		g = int(gid)
	}
	return t.chown(u, g)
}

// setTimesOf sets the times through tgt; with an open state, under its
// read lock, so that a header commit (keepMtime, which holds the lock
// exclusively from its stat to its mtime restore) cannot put back the
// mtime it saw over the one set here.
func setTimesOf(h *handle, tgt attrTarget, in *fuse.SetAttrIn) error {
	if h == nil {
		return setTimes(tgt, in)
	}
	h.of.mu.RLock()
	defer h.of.mu.RUnlock()
	return setTimes(tgt, in)
}

func setTimes(t attrTarget, in *fuse.SetAttrIn) error {
	mtime, mok := in.GetMTime()
	atime, aok := in.GetATime()
	if !mok && !aok {
		return nil
	}
	ts := []unix.Timespec{{Nsec: unix.UTIME_OMIT}, {Nsec: unix.UTIME_OMIT}}
	var err error
	if aok {
		if ts[0], err = unix.TimeToTimespec(atime); err != nil {
			return err
		}
	}
	if mok {
		if ts[1], err = unix.TimeToTimespec(mtime); err != nil {
			return err
		}
	}
	return t.utimens(ts)
}

// fattrKillSUIDGID in a SETATTR's valid mask asks the server to clear the
// set-ID bits along with the change (FUSE_HANDLE_KILLPRIV_V2, Linux 5.11;
// go-fuse v2.12.1 does not name it): the kernel sets it on a truncation
// by a caller without CAP_FSETID.
const fattrKillSUIDGID = 1 << 11

// truncate sets the plaintext size of a regular file, through the handle
// h if there is one, else through a short-lived open; with killPrivs it
// also clears the set-ID bits a write would.
func (n *node) truncate(ctx context.Context, h *handle, size int64, killPrivs bool, plain string) syscall.Errno {
	if !isReg(n.Mode()) {
		if n.IsDir() {
			return syscall.EISDIR
		}
		return syscall.EINVAL
	}
	if size < 0 {
		return syscall.EINVAL
	}
	of := (*openFile)(nil)
	if h != nil {
		of = h.of
		if errno := h.ensureWritable(); errno != 0 {
			return errno
		}
	} else {
		var errno syscall.Errno
		if of, errno = n.acquire(ctx, true); errno != 0 {
			return errno
		}
		defer n.r.files.release(of)
	}
	if killPrivs {
		if err := of.dropPrivs(); err != nil {
			return n.r.fail(err, plain)
		}
	}
	of.mu.Lock()
	defer of.mu.Unlock()
	of.written.Store(true)
	if err := of.ef.Truncate(size); err != nil {
		return n.r.fail(err, plain)
	}
	return 0
}
