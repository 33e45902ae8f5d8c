package fs

import (
	"errors"
	"strings"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/kmsfs/kmsfs/internal/names"
)

var (
	// errReservedName is returned for a name kmsfs keeps for itself at the
	// root of CIPHERDIR (kmsfs.conf, ...): it can be neither seen nor made.
	errReservedName = errors.New("fs: name is reserved by kmsfs")
	// errBadName is returned when a backing name cannot be decoded.
	errBadName = errors.New("fs: undecodable file name")
	// errSkipName is returned by decode for a backing name the codec keeps
	// for itself (a per-directory IV file, a long name's side file): it is
	// left out of listings without a warning.
	errSkipName = errors.New("fs: name belongs to the name codec")
)

// dirRef is a backing directory as the name codec sees it: its absolute
// path, and the cache of its IV. The cache lives in the directory's node,
// so it follows the directory through renames and dies with it (rmdir,
// or the kernel forgetting the inode); nil means no cache.
type dirRef struct {
	abs string
	iv  *ivCache
}

// ivCache holds a directory's IV once it was read. Failures are not
// cached: an IV file that a sync tool delivers late is picked up.
type ivCache struct {
	p atomic.Pointer[[names.DirIVSize]byte]
}

// loadIV returns d's IV, from the cache or its IV file (docs/NAMES.md §3).
func (d dirRef) loadIV() ([names.DirIVSize]byte, error) {
	if d.iv != nil {
		if p := d.iv.p.Load(); p != nil {
			return *p, nil
		}
	}
	iv, err := names.ReadDirIV(d.abs)
	if err != nil {
		return iv, err
	}
	if d.iv != nil {
		d.iv.p.Store(&iv)
	}
	return iv, nil
}

// nameCodec translates one path component between the name a program sees
// through the mount (plain) and the name stored in CIPHERDIR (backing),
// and keeps whatever a directory needs besides its entries (an IV file,
// long names' side files).
//
// Every name that crosses the mount (lookup, create, mkdir, mknod, symlink,
// link, rename, unlink, rmdir, readdir) goes through exactly one nameCodec.
type nameCodec interface {
	// encode returns the backing name of the existing (or looked-up)
	// entry plain in d.
	encode(d dirRef, plain string) (backing string, err error)
	// prepare returns the backing name for a new entry plain in d and
	// writes what the name needs before the entry exists (a long name's
	// side file). undo reverts that when the entry could not be made.
	prepare(d dirRef, plain string) (backing string, undo func(), err error)
	// decode returns the name under which the entry backing of d is
	// listed; errSkipName hides it.
	decode(d dirRef, backing string) (plain string, err error)
	// gone is told that the entry backing of d was removed or renamed
	// away, after the fact.
	gone(d dirRef, backing string) error
	// initDir prepares the directory abs, just made, for entries; it
	// returns the directory's IV when it has one.
	initDir(abs string) (*[names.DirIVSize]byte, error)
	// clearDir removes the codec's own files from the directory abs if
	// nothing else is in it, so that it can be removed or renamed over;
	// restore undoes that if the removal fails after all. A directory
	// with other entries is ENOTEMPTY.
	clearDir(abs string) (restore func(), err error)
	// check reports why d's names cannot be decoded, if they cannot (a
	// missing or damaged IV file): a listing then warns once.
	check(d dirRef) error
}

// identityNames stores names unchanged (kmsfs init --plaintext-names).
type identityNames struct{}

func (identityNames) encode(d dirRef, plain string) (string, error) { return plain, nil }
func (identityNames) prepare(d dirRef, plain string) (string, func(), error) {
	return plain, func() {}, nil
}
func (identityNames) decode(d dirRef, backing string) (string, error)    { return backing, nil }
func (identityNames) gone(d dirRef, backing string) error                { return nil }
func (identityNames) initDir(abs string) (*[names.DirIVSize]byte, error) { return nil, nil }
func (identityNames) clearDir(abs string) (func(), error)                { return nil, unix.ENOTEMPTY }
func (identityNames) check(d dirRef) error                               { return nil }

// splitRel splits a backing path relative to CipherDir into its directory
// (relative, "." for the root) and its last name.
func splitRel(rel string) (dir, name string) {
	i := strings.LastIndexByte(rel, '/')
	if i < 0 {
		return ".", rel
	}
	return rel[:i], rel[i+1:]
}

// ref returns the codec's view of directory node n at backing path rel.
func (n *node) ref(rel string) dirRef {
	return dirRef{abs: n.r.abs(rel), iv: &n.iv}
}

// gone tells the name codec that the entry rel of directory n was removed.
// The removal is done, so a codec failure is only logged.
func (n *node) gone(plain, rel string) {
	dir, name := splitRel(rel)
	if err := n.r.names.gone(n.ref(dir), name); err != nil {
		n.r.fail(err, plain)
	}
}

// isNotEmpty reports whether err is rmdir's or rename's "directory not
// empty" (POSIX allows EEXIST for it).
func isNotEmpty(err error) bool {
	return errors.Is(err, unix.ENOTEMPTY) || errors.Is(err, unix.EEXIST)
}

// rmdir removes the backing directory p, which the mount shows empty: the
// name codec's own files in it (its IV file) go first.
func (r *root) rmdir(p string) error {
	err := unix.Rmdir(p)
	if !isNotEmpty(err) {
		return err
	}
	restore, cerr := r.names.clearDir(p)
	if cerr != nil {
		return err
	}
	if err := unix.Rmdir(p); err != nil {
		restore()
		return err
	}
	return nil
}

// rename renames the backing entry from to to with renameat2 flags. A
// directory replaced by a rename must look empty, not be empty: the name
// codec's own files in it go first.
func (r *root) rename(from, to string, flags uint) error {
	err := unix.Renameat2(unix.AT_FDCWD, from, unix.AT_FDCWD, to, flags)
	if !isNotEmpty(err) || flags&unix.RENAME_EXCHANGE != 0 {
		return err
	}
	restore, cerr := r.names.clearDir(to)
	if cerr != nil {
		return err
	}
	if err := unix.Renameat2(unix.AT_FDCWD, from, unix.AT_FDCWD, to, flags); err != nil {
		restore()
		return err
	}
	return nil
}

// validName reports whether name can be a single path component.
func validName(name string) bool {
	return name != "" && name != "." && name != ".." && !strings.ContainsRune(name, '/')
}
