package fs

import (
	"context"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

// made finishes the creation of a non-regular child at rel: it gives it
// the caller as owner, stats it and returns its inode. On failure undo
// removes it again.
func (n *node) made(ctx context.Context, plain, rel string, out *fuse.EntryOut, undo func(string) error) (*gofs.Inode, syscall.Errno) {
	p := n.r.abs(rel)
	var st stat
	err := n.preserveOwner(ctx, p)
	if err == nil {
		err = n.r.made(plain, rel)
	}
	if err == nil {
		err = lstatAt(p, &st)
	}
	if err != nil {
		_ = undo(p)
		return nil, n.r.fail(err, plain)
	}
	return n.newChild(ctx, &st, plain, out), 0
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
	p := n.r.abs(rel)
	if err := unix.Mkdir(p, mode&07777); err != nil {
		return nil, n.r.fail(err, plain)
	}
	// mkdir(2) applied our umask on top of the caller's: set the exact mode,
	// keeping a setgid bit inherited from the parent.
	if err := exactMode(p, mode); err != nil {
		_ = unix.Rmdir(p)
		return nil, n.r.fail(err, plain)
	}
	return n.made(ctx, plain, rel, out, unix.Rmdir)
}

// exactMode sets the permission bits of path to those of mode, if our
// umask took some away.
func exactMode(path string, mode uint32) error {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return err
	}
	if st.Mode&0777 == mode&0777 {
		return nil
	}
	return unix.Chmod(path, st.Mode&07000|mode&0777)
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
	p := n.r.abs(rel)
	if err := unix.Mknod(p, mode, int(rdev)); err != nil {
		return nil, n.r.fail(err, plain)
	}
	if err := exactMode(p, mode); err != nil {
		_ = unix.Unlink(p)
		return nil, n.r.fail(err, plain)
	}
	return n.made(ctx, plain, rel, out, unix.Unlink)
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
	return n.made(ctx, plain, rel, out, unix.Unlink)
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
	return n.made(ctx, plain, rel, out, unix.Unlink)
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
