package fs

import (
	"context"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

// claim gives a file this mount just made the owner and permission bits a
// local disk would, and updates st to match:
//
//   - when we run as root, the caller's uid, and the caller's gid unless
//     the file inherited another group from a setgid directory (its gid is
//     then not ours);
//   - with setMode, exactly the permission bits of mode: the kernel applied
//     the caller's umask, and creating the backing file applied ours on
//     top. chown clears setuid and setgid bits, so chmod comes after it.
//
// fd is the file's descriptor, or -1 to work on path (not following a
// final symlink). Nothing is called when nothing differs.
func (r *root) claim(ctx context.Context, fd int, path string, st *stat, mode uint32, setMode bool) error {
	chowned := false
	if caller, ok := fuse.FromContext(ctx); ok && r.asRoot {
		uid, gid := caller.Uid, caller.Gid
		if st.Gid != r.egid {
			gid = st.Gid
		}
		if st.Uid != uid || st.Gid != gid {
			if err := chownAt(fd, path, int(uid), int(gid)); err != nil {
				return err
			}
			st.Uid, st.Gid, chowned = uid, gid, true
		}
	}
	perm := mode & 07777
	if !setMode || st.Mode&07777 == perm && !(chowned && perm&(syscall.S_ISUID|syscall.S_ISGID) != 0) {
		return nil
	}
	if err := chmodAt(fd, path, perm); err != nil {
		return err
	}
	st.Mode = st.Mode&^07777 | perm
	return nil
}

func chownAt(fd int, path string, uid, gid int) error {
	if fd >= 0 {
		return unix.Fchown(fd, uid, gid)
	}
	return unix.Lchown(path, uid, gid)
}

func chmodAt(fd int, path string, mode uint32) error {
	if fd >= 0 {
		return unix.Fchmod(fd, mode)
	}
	return unix.Chmod(path, mode)
}
