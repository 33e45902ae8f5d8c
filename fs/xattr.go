package fs

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"golang.org/x/sys/unix"

	"github.com/kmsfs/kmsfs/internal/names"
)

// Extended attributes: only the user.* namespace is offered. Other
// namespaces belong to the backing filesystem (security labels, ACLs of
// CipherDir) and must not leak through or be set from the mount.
//
// A name in another namespace gets EOPNOTSUPP, not ENODATA: the namespace
// is not supported, which is what Linux says for a namespace a filesystem
// has no handler for (or ext4 mounted noacl for ACLs). It also saves a
// round trip per file: `ls -l` asks for security.selinux and
// system.posix_acl_access of every file it lists, and GNU ls stops asking
// on a device once either is unsupported there (ls.c, getfilecon_cache
// and file_has_acl_cache), where ENODATA only answers for one file.
//
// With plaintext names, user.* attributes are stored on the backing file
// unchanged. With encrypted names (docs/NAMES.md §11, §12) "user.NAME" is
// stored as "user.kmsfs." || base64url(EME(NAME)), and its value sealed
// with AES-GCM bound to NAME and to the file's binding ID: 16 random bytes
// in the backing attribute xattrIDName, made when the file gets its first
// attribute. The ID is per backing inode, so hard links share it, and it
// survives truncation and rewrites (the envelope file ID does not: a
// truncation to zero gives the file a new one).

const (
	userPrefix = "user."
	// xattrIDName holds a file's xattr binding ID (docs/NAMES.md §12).
	// It is outside names.XattrPrefix, so listings never show it.
	xattrIDName = "user.kmsfs-id"
	xattrIDSize = 16
)

var (
	_ = (gofs.NodeGetxattrer)((*node)(nil))
	_ = (gofs.NodeSetxattrer)((*node)(nil))
	_ = (gofs.NodeRemovexattrer)((*node)(nil))
	_ = (gofs.NodeListxattrer)((*node)(nil))
)

// errNoXattrID means a file has encrypted attribute values but no binding
// ID to check them against: they cannot be authenticated.
var errNoXattrID = fmt.Errorf("fs: xattr binding ID missing or damaged: %w", names.ErrUnauthenticated)

// xattrPath returns the backing path and plaintext path of n for an xattr
// call on attr, or EOPNOTSUPP for a namespace the mount does not offer.
func (n *node) xattrPath(attr string) (p, plain string, errno syscall.Errno) {
	if !strings.HasPrefix(attr, userPrefix) {
		return "", "", syscall.EOPNOTSUPP
	}
	plain, rel, errno := n.paths()
	if errno != 0 {
		return "", "", errno
	}
	return n.r.abs(rel), plain, 0
}

// diskXattr returns the backing name of the user.* attribute attr.
func (r *root) diskXattr(attr string) (string, error) {
	if r.nc == nil {
		return attr, nil
	}
	return r.nc.EncryptXattrName(strings.TrimPrefix(attr, userPrefix))
}

func (n *node) Getxattr(ctx context.Context, attr string, dest []byte) (uint32, syscall.Errno) {
	p, plain, errno := n.xattrPath(attr)
	if errno != 0 {
		return 0, errno
	}
	disk, err := n.r.diskXattr(attr)
	if err != nil {
		return 0, syscall.ENODATA // no such name can be stored
	}
	value, err := lgetxattrAll(p, disk)
	if err == nil && n.r.nc != nil {
		value, err = n.r.openXattr(p, attr, value)
	}
	if err != nil {
		return 0, n.r.fail(err, plain)
	}
	if len(dest) == 0 {
		return uint32(len(value)), 0 // a size query
	}
	if len(dest) < len(value) {
		return uint32(len(value)), syscall.ERANGE
	}
	return uint32(copy(dest, value)), 0
}

// openXattr authenticates and decrypts the stored value of attr.
func (r *root) openXattr(p, attr string, sealed []byte) ([]byte, error) {
	id, err := lgetxattrAll(p, xattrIDName)
	if errors.Is(err, unix.ENODATA) || err == nil && len(id) != xattrIDSize {
		return nil, errNoXattrID
	}
	if err != nil {
		return nil, err
	}
	return r.nc.OpenXattrValue(id, strings.TrimPrefix(attr, userPrefix), sealed)
}

func (n *node) Setxattr(ctx context.Context, attr string, data []byte, flags uint32) syscall.Errno {
	if errno := n.r.writable(); errno != 0 {
		return errno
	}
	p, plain, errno := n.xattrPath(attr)
	if errno != 0 {
		return errno
	}
	disk, err := n.r.diskXattr(attr)
	if errors.Is(err, names.ErrTooLong) {
		return syscall.ERANGE // what Linux says for a name too long
	}
	if err == nil && n.r.nc != nil {
		data, err = n.r.sealXattr(p, attr, data)
	}
	if err == nil {
		err = unix.Lsetxattr(p, disk, data, int(flags))
	}
	if err != nil {
		return n.r.fail(err, plain)
	}
	return 0
}

// sealXattr encrypts value for attr on the backing file p, giving the
// file its binding ID first if it has none (or a damaged one, whose
// values are unreadable anyway).
func (r *root) sealXattr(p, attr string, value []byte) ([]byte, error) {
	id, err := xattrID(p)
	if err != nil {
		return nil, err
	}
	return r.nc.SealXattrValue(id, strings.TrimPrefix(attr, userPrefix), value)
}

// xattrID returns p's binding ID, making one if needed. Two racing
// setxattr calls agree on one ID (XATTR_CREATE).
func xattrID(p string) ([]byte, error) {
	id, err := lgetxattrAll(p, xattrIDName)
	switch {
	case err == nil && len(id) == xattrIDSize:
		return id, nil
	case err != nil && !errors.Is(err, unix.ENODATA):
		return nil, err
	}
	flags := unix.XATTR_CREATE
	if err == nil {
		flags = unix.XATTR_REPLACE // damaged
	}
	id = make([]byte, xattrIDSize)
	_, _ = rand.Read(id) // never fails (crypto/rand.Read doc)
	err = unix.Lsetxattr(p, xattrIDName, id, flags)
	if errors.Is(err, unix.EEXIST) {
		if id, err = lgetxattrAll(p, xattrIDName); err == nil && len(id) != xattrIDSize {
			err = errNoXattrID
		}
	}
	if err != nil {
		return nil, err
	}
	return id, nil
}

func (n *node) Removexattr(ctx context.Context, attr string) syscall.Errno {
	if errno := n.r.writable(); errno != 0 {
		return errno
	}
	p, plain, errno := n.xattrPath(attr)
	if errno != 0 {
		return errno
	}
	disk, err := n.r.diskXattr(attr)
	if err != nil {
		return syscall.ENODATA
	}
	if err := unix.Lremovexattr(p, disk); err != nil {
		return n.r.fail(err, plain)
	}
	return 0
}

// Listxattr lists the user.* names (decrypted). An empty dest asks for
// the size.
func (n *node) Listxattr(ctx context.Context, dest []byte) (uint32, syscall.Errno) {
	plain, rel, errno := n.paths()
	if errno != 0 {
		return 0, errno
	}
	all, err := listXattr(n.r.abs(rel))
	if err != nil {
		return 0, n.r.fail(err, plain)
	}
	list := n.r.userXattrs(all)
	if len(dest) == 0 {
		return uint32(len(list)), 0
	}
	if len(dest) < len(list) {
		return uint32(len(list)), syscall.ERANGE
	}
	return uint32(copy(dest, list)), 0
}

// userXattrs returns the NUL-terminated user.* names a program sees in the
// backing list: with encrypted names, the decryptable ones, decrypted.
func (r *root) userXattrs(list []byte) []byte {
	var out []byte
	for _, name := range bytes.Split(list, []byte{0}) {
		switch {
		case !bytes.HasPrefix(name, []byte(userPrefix)):
		case r.nc == nil:
			out = append(append(out, name...), 0)
		default:
			if plain, err := r.nc.DecryptXattrName(string(name)); err == nil {
				out = append(append(append(out, userPrefix...), plain...), 0)
			}
		}
	}
	return out
}

// lgetxattrAll reads the whole value of attribute name of path, retrying
// while it grows under us.
func lgetxattrAll(path, name string) ([]byte, error) {
	for {
		sz, err := unix.Lgetxattr(path, name, nil)
		if err != nil {
			return nil, err
		}
		buf := make([]byte, sz)
		sz, err = unix.Lgetxattr(path, name, buf)
		if errors.Is(err, unix.ERANGE) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return buf[:sz], nil
	}
}

// listXattr returns the NUL-separated names of path's attributes, retrying
// while they grow under us.
func listXattr(path string) ([]byte, error) {
	for {
		sz, err := unix.Llistxattr(path, nil)
		if err != nil || sz == 0 {
			return nil, err
		}
		buf := make([]byte, sz)
		sz, err = unix.Llistxattr(path, buf)
		if errors.Is(err, unix.ERANGE) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return buf[:sz], nil
	}
}
