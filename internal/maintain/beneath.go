package maintain

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// treeRoot is a CIPHERDIR opened O_PATH; every file open resolves beneath
// it without following any symlink (as package fs opens backing files),
// so no name in the tree, nor a path sent to the control socket, can lead
// an open outside it or to another file than the one named.
type treeRoot struct {
	fd   int
	name string
}

func openTreeRoot(dir string) (*treeRoot, error) {
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("maintain: %w", &os.PathError{Op: "open", Path: dir, Err: err})
	}
	return &treeRoot{fd: fd, name: dir}, nil
}

func (r *treeRoot) Close() error { return unix.Close(r.fd) }

// open opens rel (slash-separated, local) beneath the root, refusing
// symlinks anywhere in it. It tries O_NOATIME first: our reads are not
// accesses by a program; the kernel refuses it to a non-owner without
// privilege, and then the open is retried without it.
func (r *treeRoot) open(rel string, flags int) (*os.File, error) {
	name := filepath.FromSlash(rel)
	if rel == "" || !filepath.IsLocal(name) {
		return nil, fmt.Errorf("%w: %q", ErrBadPath, rel)
	}
	f, err := r.openat2(name, flags|unix.O_NOATIME)
	if errors.Is(err, unix.EPERM) {
		f, err = r.openat2(name, flags)
	}
	if errors.Is(err, unix.EISDIR) || errors.Is(err, unix.ELOOP) {
		return nil, fmt.Errorf("%w: %q: %w", ErrBadPath, rel, err)
	}
	return f, err
}

func (r *treeRoot) openat2(name string, flags int) (*os.File, error) {
	how := unix.OpenHow{
		Flags:   uint64(flags | unix.O_CLOEXEC | unix.O_NOFOLLOW),
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS,
	}
	for {
		fd, err := unix.Openat2(r.fd, name, &how)
		switch {
		case err == nil:
			return os.NewFile(uintptr(fd), filepath.Join(r.name, name)), nil
		case errors.Is(err, unix.EINTR), errors.Is(err, unix.EAGAIN):
			continue
		case errors.Is(err, unix.ENOSYS):
			// Kernels before 5.6: refuse a final symlink at least.
			return os.OpenFile(filepath.Join(r.name, name), flags|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		}
		return nil, &os.PathError{Op: "openat2", Path: filepath.Join(r.name, name), Err: err}
	}
}
