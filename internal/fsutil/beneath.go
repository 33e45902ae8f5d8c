package fsutil

import (
	"errors"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// OpenBeneath opens rel relative to the directory dirfd (named root, for
// errors and the fallback) with openat2(2) RESOLVE_BENEATH and
// RESOLVE_NO_SYMLINKS, so that no name under root, nor a hostile rel, can
// lead the open outside root or through a symlink. On kernels without
// openat2 (before 5.6) it falls back to a plain open that refuses a final
// symlink at least.
func OpenBeneath(dirfd int, root, rel string, flags int, mode uint32) (*os.File, error) {
	how := unix.OpenHow{
		Flags:   uint64(flags | unix.O_CLOEXEC | unix.O_NOFOLLOW),
		Mode:    uint64(mode),
		Resolve: unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_BENEATH,
	}
	name := filepath.Join(root, rel)
	for {
		fd, err := unix.Openat2(dirfd, rel, &how)
		switch {
		case err == nil:
			return os.NewFile(uintptr(fd), name), nil
		case errors.Is(err, unix.EINTR), errors.Is(err, unix.EAGAIN):
			continue
		case errors.Is(err, unix.ENOSYS):
			return os.OpenFile(name, flags|unix.O_NOFOLLOW|unix.O_CLOEXEC, os.FileMode(mode))
		default:
			return nil, &os.PathError{Op: "openat2", Path: name, Err: err}
		}
	}
}

// OpenNoatime is OpenBeneath with O_NOATIME where the kernel allows it: a
// read by kmsfs itself is not an access by a program. The kernel refuses
// O_NOATIME to a caller that neither owns the file nor is privileged, and
// then the open is retried without it.
func OpenNoatime(dirfd int, root, rel string, flags int) (*os.File, error) {
	f, err := OpenBeneath(dirfd, root, rel, flags|unix.O_NOATIME, 0)
	if errors.Is(err, unix.EPERM) {
		f, err = OpenBeneath(dirfd, root, rel, flags, 0)
	}
	return f, err
}
