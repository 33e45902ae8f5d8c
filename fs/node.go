package fs

import (
	"context"
	"slices"
	"strings"
	"sync/atomic"
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
	iv  ivCache // a directory's IV, once read (encrypted names)
	// disk caches the backing name of this node under its last parent
	// and name, so that paths() does not encrypt every component of a
	// path on every operation.
	disk atomic.Pointer[diskName]
}

// diskName is a node's backing name under dir and plaintext name: a pure
// function of the two, since dir's IV never changes while dir lives.
type diskName struct {
	dir  *node
	name string
	disk string
}

// encodeStep returns the backing name of n as the child name of dir (at
// backing path abs), from n's cache when it is for the same dir and name.
func (n *node) encodeStep(dir *node, abs, name string) (string, error) {
	if enc, ok := n.cachedStep(dir, name); ok {
		return enc, nil
	}
	enc, err := n.r.names.encode(dirRef{abs: abs, iv: &dir.iv}, name)
	if err != nil {
		return "", err
	}
	n.disk.Store(&diskName{dir: dir, name: name, disk: enc})
	return enc, nil
}

// cachedStep returns n's backing name as name in dir if encodeStep has
// it cached.
func (n *node) cachedStep(dir *node, name string) (string, bool) {
	if c := n.disk.Load(); c != nil && c.dir == dir && c.name == name {
		return c.disk, true
	}
	return "", false
}

// paths returns n's plaintext path (for logs, "/a/b") and its backing path
// relative to CipherDir ("." for the root). A node no longer reachable from
// the root (unlinked while open) has no path: ENOENT. Each name is encoded
// with its parent directory, whose node caches the directory's IV.
func (n *node) paths() (plain, rel string, errno syscall.Errno) {
	type step struct {
		name      string
		dir, self *node
	}
	// Paths are computed for nearly every request: the steps live on the
	// stack for ordinary depths, and each path is one allocation.
	var stack [16]step
	steps := stack[:0]
	top := n.Root()
	for p := n.EmbeddedInode(); p != top; {
		name, parent := p.Parent()
		if parent == nil {
			return "", "", syscall.ENOENT
		}
		dir, ok := parent.Operations().(*node)
		self, ok2 := p.Operations().(*node)
		if !ok || !ok2 {
			return "", "", syscall.EIO
		}
		steps = append(steps, step{name, dir, self})
		p = parent
	}
	if len(steps) == 0 {
		return "/", ".", 0
	}
	var encs [16]string
	enc := encs[:0]
	plainLen := 0
	for i := len(steps) - 1; i >= 0; i-- {
		s := steps[i]
		e, ok := s.self.cachedStep(s.dir, s.name)
		if !ok {
			var err error
			// Only a miss needs the directory's absolute path (for its IV).
			if e, err = s.self.encodeStep(s.dir, n.r.abs(joinRel(enc)), s.name); err != nil {
				var pb strings.Builder
				for _, a := range slices.Backward(steps[i:]) {
					pb.WriteString("/" + a.name)
				}
				return "", "", n.r.fail(err, pb.String())
			}
		}
		enc = append(enc, e)
		plainLen += 1 + len(s.name)
	}
	var pb strings.Builder
	pb.Grow(plainLen)
	for i := len(steps) - 1; i >= 0; i-- {
		pb.WriteByte('/')
		pb.WriteString(steps[i].name)
	}
	return pb.String(), joinRel(enc), 0
}

// joinRel joins backing names into a path relative to CipherDir ("." for
// none), with one allocation.
func joinRel(names []string) string {
	switch len(names) {
	case 0:
		return "."
	case 1:
		return names[0]
	}
	return strings.Join(names, "/")
}

// child returns the plaintext and backing relative paths of the existing
// (or looked-up) child name of directory n. A name reserved by kmsfs at
// the root is EPERM.
func (n *node) child(name string) (plain, rel string, errno syscall.Errno) {
	dplain, drel, errno := n.paths()
	if errno != 0 {
		return "", "", errno
	}
	if !validName(name) {
		return "", "", syscall.EINVAL
	}
	enc, err := n.r.names.encode(n.ref(drel), name)
	if err != nil {
		return "", "", n.r.fail(err, join(dplain, name))
	}
	return n.r.childPaths(dplain, drel, name, enc)
}

// newName is child for a name about to be made: the codec writes what the
// name needs first (a long name's side file), and undo reverts that if
// the entry is not made after all. undo is never nil.
func (n *node) newName(name string) (plain, rel string, undo func(), errno syscall.Errno) {
	noop := func() {}
	dplain, drel, errno := n.paths()
	if errno != 0 {
		return "", "", noop, errno
	}
	if !validName(name) {
		return "", "", noop, syscall.EINVAL
	}
	enc, undo, err := n.r.names.prepare(n.ref(drel), name)
	if err != nil {
		return "", "", noop, n.r.fail(err, join(dplain, name))
	}
	plain, rel, errno = n.r.childPaths(dplain, drel, name, enc)
	if errno != 0 {
		undo()
		return "", "", noop, errno
	}
	return plain, rel, undo, 0
}

// childPaths joins a directory's paths and a child's names, refusing the
// backing names kmsfs keeps for itself at the root.
func (r *root) childPaths(dplain, drel, name, enc string) (plain, rel string, errno syscall.Errno) {
	if drel == "." {
		if r.reserved[enc] {
			return "", "", r.fail(errReservedName, join(dplain, name))
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

// Readlink reads the backing symlink and decrypts or checks its target
// (symlink.go). A target that fails authentication is EIO, logged.
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
			target, err := n.r.decodeTarget(ctx, buf[:m], plain)
			if err != nil {
				return nil, n.r.fail(err, plain)
			}
			return target, 0
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
