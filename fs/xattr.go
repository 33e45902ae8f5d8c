package fs

import (
	"bytes"
	"context"
	"strings"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"golang.org/x/sys/unix"
)

// Extended attributes: only the user.* namespace is offered, stored on the
// backing file unchanged. Other namespaces belong to the backing
// filesystem (security labels, ACLs of CipherDir) and must not leak
// through or be set from the mount. Answering them without a syscall also
// keeps the kernel's security.capability check on every write cheap.

const userPrefix = "user."

var (
	_ = (gofs.NodeGetxattrer)((*node)(nil))
	_ = (gofs.NodeSetxattrer)((*node)(nil))
	_ = (gofs.NodeRemovexattrer)((*node)(nil))
	_ = (gofs.NodeListxattrer)((*node)(nil))
)

func (n *node) Getxattr(ctx context.Context, attr string, dest []byte) (uint32, syscall.Errno) {
	if !strings.HasPrefix(attr, userPrefix) {
		return 0, syscall.ENODATA
	}
	plain, rel, errno := n.paths()
	if errno != 0 {
		return 0, errno
	}
	sz, err := unix.Lgetxattr(n.r.abs(rel), attr, dest)
	if err == unix.ERANGE {
		// Tell the kernel the size it needs.
		if sz, err = unix.Lgetxattr(n.r.abs(rel), attr, nil); err == nil {
			return uint32(sz), syscall.ERANGE
		}
	}
	if err != nil {
		return 0, n.r.fail(err, plain)
	}
	return uint32(sz), 0
}

func (n *node) Setxattr(ctx context.Context, attr string, data []byte, flags uint32) syscall.Errno {
	if errno := n.r.writable(); errno != 0 {
		return errno
	}
	if !strings.HasPrefix(attr, userPrefix) {
		return syscall.EOPNOTSUPP
	}
	plain, rel, errno := n.paths()
	if errno != 0 {
		return errno
	}
	if err := unix.Lsetxattr(n.r.abs(rel), attr, data, int(flags)); err != nil {
		return n.r.fail(err, plain)
	}
	return 0
}

func (n *node) Removexattr(ctx context.Context, attr string) syscall.Errno {
	if errno := n.r.writable(); errno != 0 {
		return errno
	}
	if !strings.HasPrefix(attr, userPrefix) {
		return syscall.ENODATA
	}
	plain, rel, errno := n.paths()
	if errno != 0 {
		return errno
	}
	if err := unix.Lremovexattr(n.r.abs(rel), attr); err != nil {
		return n.r.fail(err, plain)
	}
	return 0
}

// Listxattr lists the user.* names. An empty dest asks for the size.
func (n *node) Listxattr(ctx context.Context, dest []byte) (uint32, syscall.Errno) {
	plain, rel, errno := n.paths()
	if errno != 0 {
		return 0, errno
	}
	all, err := listXattr(n.r.abs(rel))
	if err != nil {
		return 0, n.r.fail(err, plain)
	}
	names := filterUser(all)
	if len(dest) == 0 {
		return uint32(len(names)), 0
	}
	if len(dest) < len(names) {
		return uint32(len(names)), syscall.ERANGE
	}
	return uint32(copy(dest, names)), 0
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
		if err == unix.ERANGE {
			continue
		}
		if err != nil {
			return nil, err
		}
		return buf[:sz], nil
	}
}

func filterUser(list []byte) []byte {
	var out []byte
	for _, name := range bytes.Split(list, []byte{0}) {
		if bytes.HasPrefix(name, []byte(userPrefix)) {
			out = append(append(out, name...), 0)
		}
	}
	return out
}
