package maintain

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/kmsfs/kmsfs/internal/fsutil"
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
	f, err := fsutil.OpenNoatime(r.fd, r.name, name, flags)
	if errors.Is(err, unix.EISDIR) || errors.Is(err, unix.ELOOP) {
		return nil, fmt.Errorf("%w: %q: %w", ErrBadPath, rel, err)
	}
	return f, err
}
