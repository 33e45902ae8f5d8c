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
// its owner) and returns its inode. On failure undo removes it again
// (and whatever its name needed).
func (n *node) entry(ctx context.Context, plain, rel string, out *fuse.EntryOut, undo func(), fix func(p string, st *stat) error) (*gofs.Inode, syscall.Errno) {
	p := n.r.abs(rel)
	var st stat
	err := lstatAt(p, &st)
	if err == nil && fix != nil {
		err = fix(p, &st)
	}
	if err != nil {
		undo()
		return nil, n.r.fail(err, plain)
	}
	return n.newChild(ctx, &st, plain, out), 0
}

// undoWith returns an undo for entry: remove the backing entry p with rm,
// then let the name codec drop what the name needed.
func undoWith(rm func(string) error, p string, name func()) func() {
	return func() {
		_ = rm(p)
		name()
	}
}

// claimer returns the fix for entry that gives a new entry the caller as
// owner and, with setMode, exactly mode.
func (n *node) claimer(ctx context.Context, mode uint32, setMode bool) func(string, *stat) error {
	return func(p string, st *stat) error {
		return n.r.claim(ctx, -1, p, st, mode, setMode)
	}
}

var _ = (gofs.NodeMkdirer)((*node)(nil))

// Mkdir makes a directory and, with encrypted names, its IV file, before
// the directory is visible to anyone through the mount.
func (n *node) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	if errno := n.r.writable(); errno != 0 {
		return nil, errno
	}
	plain, rel, undoName, errno := n.newName(name)
	if errno != 0 {
		return nil, errno
	}
	p := n.r.abs(rel)
	if err := unix.Mkdir(p, mode&07777); err != nil {
		undoName()
		return nil, n.r.fail(err, plain)
	}
	undo := undoWith(n.r.rmdir, p, undoName)
	iv, err := n.r.names.initDir(p)
	if err != nil {
		undo()
		return nil, n.r.fail(err, plain)
	}
	// Keep a setgid bit the new directory inherited from its parent.
	ch, errno := n.entry(ctx, plain, rel, out, undo, func(p string, st *stat) error {
		return n.r.claim(ctx, -1, p, st, mode|st.Mode&syscall.S_ISGID, true)
	})
	if ch != nil && iv != nil {
		if cn, ok := ch.Operations().(*node); ok {
			cn.iv.p.Store(iv)
		}
	}
	return ch, errno
}

var _ = (gofs.NodeMknoder)((*node)(nil))

// Mknod makes FIFOs, sockets, device nodes and empty regular files (an
// empty backing file is a valid empty kmsfs file).
func (n *node) Mknod(ctx context.Context, name string, mode, rdev uint32, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	if errno := n.r.writable(); errno != 0 {
		return nil, errno
	}
	plain, rel, undoName, errno := n.newName(name)
	if errno != 0 {
		return nil, errno
	}
	p := n.r.abs(rel)
	if err := unix.Mknod(p, mode, int(rdev)); err != nil {
		undoName()
		return nil, n.r.fail(err, plain)
	}
	return n.entry(ctx, plain, rel, out, undoWith(unix.Unlink, p, undoName), n.claimer(ctx, mode, true))
}

var _ = (gofs.NodeSymlinker)((*node)(nil))

// Symlink stores the target, encrypted when names are, else marked
// (symlink.go).
func (n *node) Symlink(ctx context.Context, target, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	if errno := n.r.writable(); errno != 0 {
		return nil, errno
	}
	plain, rel, undoName, errno := n.newName(name)
	if errno != 0 {
		return nil, errno
	}
	p := n.r.abs(rel)
	stored, err := n.r.encodeTarget(ctx, target)
	if err == nil {
		err = unix.Symlink(stored, p)
	}
	if err != nil {
		undoName()
		return nil, n.r.fail(err, plain)
	}
	return n.entry(ctx, plain, rel, out, undoWith(unix.Unlink, p, undoName), n.claimer(ctx, 0, false))
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
	plain, rel, undoName, errno := n.newName(name)
	if errno != 0 {
		return nil, errno
	}
	p := n.r.abs(rel)
	if err := unix.Link(n.r.abs(trel), p); err != nil {
		undoName()
		return nil, n.r.fail(err, tplain)
	}
	return n.entry(ctx, plain, rel, out, undoWith(unix.Unlink, p, undoName), nil)
}

var _ = (gofs.NodeUnlinker)((*node)(nil))

func (n *node) Unlink(ctx context.Context, name string) syscall.Errno {
	return n.remove(name, unix.Unlink)
}

var _ = (gofs.NodeRmdirer)((*node)(nil))

// Rmdir removes a directory; the name codec removes its own files in it
// (the IV file) when nothing else is left.
func (n *node) Rmdir(ctx context.Context, name string) syscall.Errno {
	return n.remove(name, n.r.rmdir)
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
	n.gone(plain, rel)
	return 0
}

var _ = (gofs.NodeRenamer)((*node)(nil))

// Rename moves a name, with renameat2 flags (RENAME_NOREPLACE,
// RENAME_EXCHANGE) passed through. Contents are not bound to names, and a
// directory's IV moves with it, so nothing is re-encrypted but the name:
// an entry listed marked (undecryptable) gets a real name this way.
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
	exchange := flags&unix.RENAME_EXCHANGE != 0
	var nrel string
	undo := func() {}
	if exchange {
		// Both names exist before and after.
		_, nrel, errno = np.child(newName)
	} else {
		_, nrel, undo, errno = np.newName(newName)
	}
	if errno != 0 {
		return errno
	}
	err := n.r.rename(n.r.abs(rel), n.r.abs(nrel), uint(flags))
	if err != nil {
		undo()
		return n.r.fail(err, plain)
	}
	if !exchange {
		n.gone(plain, rel)
	}
	return 0
}
