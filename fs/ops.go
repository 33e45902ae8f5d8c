package fs

import (
	"context"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

// entry finishes the creation of a non-regular child at rel: it stats it,
// lets fix give it owner and mode (nil for a hard link, which must keep
// its owner), tells the name codec and returns its inode. On failure undo
// removes it again.
func (n *node) entry(ctx context.Context, plain, rel string, out *fuse.EntryOut, undo func(string) error, fix func(p string, st *stat) error) (*gofs.Inode, syscall.Errno) {
	p := n.r.abs(rel)
	var st stat
	err := lstatAt(p, &st)
	if err == nil && fix != nil {
		err = fix(p, &st)
	}
	if err == nil {
		err = n.r.made(plain, rel)
	}
	if err != nil {
		_ = undo(p)
		return nil, n.r.fail(err, plain)
	}
	return n.newChild(ctx, &st, plain, out), 0
}

// claimer returns the fix for entry that gives a new entry the caller as
// owner and, with setMode, exactly mode.
func (n *node) claimer(ctx context.Context, mode uint32, setMode bool) func(string, *stat) error {
	return func(p string, st *stat) error {
		return n.r.claim(ctx, -1, p, st, mode, setMode)
	}
}

var _ = (gofs.NodeMkdirer)((*node)(nil))

func (n *node) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	if errno := n.r.writable(); errno != 0 {
		return nil, errno
	}
	plain, rel, errno := n.child(name)
	if errno != 0 {
		return nil, errno
	}
	if err := unix.Mkdir(n.r.abs(rel), mode&07777); err != nil {
		return nil, n.r.fail(err, plain)
	}
	// Keep a setgid bit the new directory inherited from its parent.
	return n.entry(ctx, plain, rel, out, unix.Rmdir, func(p string, st *stat) error {
		return n.r.claim(ctx, -1, p, st, mode|st.Mode&syscall.S_ISGID, true)
	})
}

var _ = (gofs.NodeMknoder)((*node)(nil))

// Mknod makes FIFOs, sockets, device nodes and empty regular files (an
// empty backing file is a valid empty kmsfs file).
func (n *node) Mknod(ctx context.Context, name string, mode, rdev uint32, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	if errno := n.r.writable(); errno != 0 {
		return nil, errno
	}
	plain, rel, errno := n.child(name)
	if errno != 0 {
		return nil, errno
	}
	if err := unix.Mknod(n.r.abs(rel), mode, int(rdev)); err != nil {
		return nil, n.r.fail(err, plain)
	}
	return n.entry(ctx, plain, rel, out, unix.Unlink, n.claimer(ctx, mode, true))
}

var _ = (gofs.NodeSymlinker)((*node)(nil))

// Symlink stores the target unchanged.
func (n *node) Symlink(ctx context.Context, target, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	if errno := n.r.writable(); errno != 0 {
		return nil, errno
	}
	plain, rel, errno := n.child(name)
	if errno != 0 {
		return nil, errno
	}
	if err := unix.Symlink(target, n.r.abs(rel)); err != nil {
		return nil, n.r.fail(err, plain)
	}
	return n.entry(ctx, plain, rel, out, unix.Unlink, n.claimer(ctx, 0, false))
}

var _ = (gofs.NodeLinker)((*node)(nil))

// Link makes a hard link. Both names then reach one backing inode, hence
// one open-file state and one data key.
func (n *node) Link(ctx context.Context, target gofs.InodeEmbedder, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	if errno := n.r.writable(); errno != 0 {
		return nil, errno
	}
	tn, ok := target.(*node)
	if !ok || tn.r != n.r {
		return nil, syscall.EXDEV
	}
	tplain, trel, errno := tn.paths()
	if errno != 0 {
		return nil, errno
	}
	plain, rel, errno := n.child(name)
	if errno != 0 {
		return nil, errno
	}
	if err := unix.Link(n.r.abs(trel), n.r.abs(rel)); err != nil {
		return nil, n.r.fail(err, tplain)
	}
	return n.entry(ctx, plain, rel, out, unix.Unlink, nil)
}

var _ = (gofs.NodeUnlinker)((*node)(nil))

func (n *node) Unlink(ctx context.Context, name string) syscall.Errno {
	return n.remove(name, unix.Unlink)
}

var _ = (gofs.NodeRmdirer)((*node)(nil))

func (n *node) Rmdir(ctx context.Context, name string) syscall.Errno {
	return n.remove(name, unix.Rmdir)
}

func (n *node) remove(name string, rm func(string) error) syscall.Errno {
	if errno := n.r.writable(); errno != 0 {
		return errno
	}
	plain, rel, errno := n.child(name)
	if errno == syscall.EPERM {
		return syscall.ENOENT
	}
	if errno != 0 {
		return errno
	}
	if err := rm(n.r.abs(rel)); err != nil {
		return n.r.fail(err, plain)
	}
	n.r.gone(plain, rel)
	return 0
}

var _ = (gofs.NodeRenamer)((*node)(nil))

// Rename moves a name, with renameat2 flags (RENAME_NOREPLACE,
// RENAME_EXCHANGE) passed through. Contents are not bound to names, so
// nothing is re-encrypted.
func (n *node) Rename(ctx context.Context, name string, newParent gofs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	if errno := n.r.writable(); errno != 0 {
		return errno
	}
	np, ok := newParent.(*node)
	if !ok || np.r != n.r {
		return syscall.EXDEV
	}
	plain, rel, errno := n.child(name)
	if errno != 0 {
		return errno
	}
	nplain, nrel, errno := np.child(newName)
	if errno != 0 {
		return errno
	}
	err := unix.Renameat2(unix.AT_FDCWD, n.r.abs(rel), unix.AT_FDCWD, n.r.abs(nrel), uint(flags))
	if err != nil {
		return n.r.fail(err, plain)
	}
	if flags&unix.RENAME_EXCHANGE == 0 {
		// Both names still exist after an exchange; otherwise the old
		// one is gone and the new one made.
		n.r.gone(plain, rel)
		if err := n.r.made(nplain, nrel); err != nil {
			n.r.fail(err, nplain)
		}
	}
	return 0
}
