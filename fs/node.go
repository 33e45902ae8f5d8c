package fs

import (
	"context"
	"strings"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// node is a file, directory, symlink or special file of the mount. It
// holds no path: paths are derived from go-fuse's inode tree on each use,
// so renames need no bookkeeping.
type node struct {
	gofs.Inode
	r   *root
	key fileKey // the backing inode of a regular file, from its last stat
}

// paths returns n's plaintext path (for logs, "/a/b") and its backing path
// relative to CipherDir ("." for the root). A node no longer reachable from
// the root (unlinked while open) has no path: ENOENT.
func (n *node) paths() (plain, rel string, errno syscall.Errno) {
	var names []string
	top := n.Root()
	for p := n.EmbeddedInode(); p != top; {
		name, parent := p.Parent()
		if parent == nil {
			return "", "", syscall.ENOENT
		}
		names = append(names, name)
		p = parent
	}
	if len(names) == 0 {
		return "/", ".", 0
	}
	var pb, bb strings.Builder
	dir := n.r.dir
	for i := len(names) - 1; i >= 0; i-- {
		enc, err := n.r.names.encode(dir, names[i])
		if err != nil {
			return "", "", n.r.fail(err, pb.String()+"/"+names[i])
		}
		pb.WriteString("/" + names[i])
		if bb.Len() > 0 {
			bb.WriteByte('/')
		}
		bb.WriteString(enc)
		dir += "/" + enc
	}
	return pb.String(), bb.String(), 0
}

// child returns the plaintext and backing relative paths of the child name
// of directory n. A name reserved by kmsfs at the root is EPERM.
func (n *node) child(name string) (plain, rel string, errno syscall.Errno) {
	dplain, drel, errno := n.paths()
	if errno != 0 {
		return "", "", errno
	}
	if !validName(name) {
		return "", "", syscall.EINVAL
	}
	enc, err := n.r.names.encode(n.r.abs(drel), name)
	if err != nil {
		return "", "", n.r.fail(err, join(dplain, name))
	}
	if drel == "." {
		if n.r.reserved[enc] {
			return "", "", n.r.fail(errReservedName, join(dplain, name))
		}
		return "/" + name, enc, 0
	}
	return join(dplain, name), drel + "/" + enc, 0
}

func join(dir, name string) string {
	if dir == "/" {
		return "/" + name
	}
	return dir + "/" + name
}

// abs returns the absolute backing path of rel.
func (r *root) abs(rel string) string {
	if rel == "." {
		return r.dir
	}
	return r.dir + "/" + rel
}

// newChild makes (or finds) the inode for a backing file just statted and
// fills out.
func (n *node) newChild(ctx context.Context, st *stat, plain string, out *fuse.EntryOut) *gofs.Inode {
	n.r.fillAttr(st, plain, &out.Attr)
	ch := &node{r: n.r}
	if isReg(st.Mode) {
		ch.key = keyOf(&st.Stat_t)
	}
	return n.NewInode(ctx, ch, n.r.stableAttr(st))
}

var _ = (gofs.NodeLookuper)((*node)(nil))

// Lookup finds a child; names kmsfs keeps for itself do not exist.
func (n *node) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	plain, rel, errno := n.child(name)
	if errno == syscall.EPERM {
		return nil, syscall.ENOENT
	}
	if errno != 0 {
		return nil, errno
	}
	var st stat
	if err := n.r.lstatStable(n.r.abs(rel), fileKey{}, &st); err != nil {
		return nil, n.r.fail(err, plain)
	}
	return n.newChild(ctx, &st, plain, out), 0
}

var _ = (gofs.NodeGetattrer)((*node)(nil))

// Getattr stats the backing file, through the open handle when there is one
// (so fstat works on an unlinked file), with a plaintext size.
func (n *node) Getattr(ctx context.Context, f gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	switch h := f.(type) {
	case *handle:
		return h.getattr(out)
	case *dirHandle:
		return h.getattr(out)
	}
	plain, rel, errno := n.paths()
	if errno != 0 {
		return errno
	}
	var st stat
	if err := n.r.lstatStable(n.r.abs(rel), n.key, &st); err != nil {
		return n.r.fail(err, plain)
	}
	if !n.IsRoot() && n.r.stableAttr(&st).Ino != n.StableAttr().Ino {
		// The name now holds another file (a rename raced with us). The
		// kernel retries the lookup on ESTALE.
		return syscall.ESTALE
	}
	n.r.fillAttr(&st, plain, &out.Attr)
	return 0
}

var _ = (gofs.NodeReadlinker)((*node)(nil))

func (n *node) Readlink(ctx context.Context) ([]byte, syscall.Errno) {
	plain, rel, errno := n.paths()
	if errno != 0 {
		return nil, errno
	}
	for size := 256; ; size *= 2 {
		buf := make([]byte, size)
		m, err := syscall.Readlink(n.r.abs(rel), buf)
		if err != nil {
			return nil, n.r.fail(err, plain)
		}
		if m < size {
			return buf[:m], 0
		}
	}
}

var _ = (gofs.NodeStatfser)((*node)(nil))

// Statfs reports the backing filesystem's numbers.
func (n *node) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	var s syscall.Statfs_t
	if err := syscall.Statfs(n.r.dir, &s); err != nil {
		return n.r.fail(err, "/")
	}
	out.FromStatfsT(&s)
	return 0
}

var _ = (gofs.NodeCopyFileRanger)((*node)(nil))

// CopyFileRange refuses, so the kernel falls back to reading and writing:
// copying ciphertext between files with different keys would be garbage.
func (n *node) CopyFileRange(ctx context.Context, fhIn gofs.FileHandle, offIn uint64, out *gofs.Inode,
	fhOut gofs.FileHandle, offOut uint64, size uint64, flags uint64) (uint32, syscall.Errno) {
	return 0, syscall.ENOTSUP
}
