package maintain

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/kmsfs/kmsfs/envelope"
	"github.com/kmsfs/kmsfs/internal/fsutil"
)

// ErrHardLinks reports a file with more than one name: replacing it by
// rename would leave its other names on the old DEK.
var ErrHardLinks = errors.New("maintain: file has several hard links; re-keying would split them")

// copyBlock is how much plaintext a re-key copies per step. It is a
// multiple of every chunk size, so whole chunks are sealed in parallel.
const copyBlock = envelope.MaxChunkSize

// RekeyCipherFile re-encrypts the ciphertext file at path, in a CIPHERDIR
// that is not mounted, under a fresh DEK and file ID: it decrypts with
// envelope.Open, writes envelope.Create's output to a temporary file
// beside it (named with [RekeyTempPrefix], which fsck reports as a stray
// if a crash leaves it), syncs it, copies mode, owner, xattrs and times,
// renames it over path and syncs the directory. A crash at any point
// leaves either the old or the new file under path. ks unwraps the old DEK
// and wraps the new one (under the volume key); chunkSize is the volume's.
// An empty file has no DEK and is left alone.
func RekeyCipherFile(ctx context.Context, path string, ks envelope.KeyService, chunkSize int) error {
	src, st, err := openSource(path)
	if err != nil || st.Size == 0 {
		return err
	}
	defer src.Close()
	old, err := envelope.Open(ctx, src, ks, chunkSize)
	if err != nil {
		return fmt.Errorf("maintain: %s: %w", path, err)
	}
	defer old.Close()
	if err := old.Truncation(); err != nil {
		// Re-keying would turn a cut file into a clean, shorter one and
		// hide the loss; fsck reports it, the user decides.
		return fmt.Errorf("maintain: %s: refusing to rekey a truncated file: %w", path, err)
	}
	return replaceBeside(path, src, st, func(tmp *os.File) error {
		nf, err := envelope.Create(ctx, tmp, ks, chunkSize)
		if err != nil {
			return err
		}
		if err := copySparse(ctx, nf, old, old.Size(), chunkSize); err != nil {
			nf.Close()
			return err
		}
		if err := nf.Sync(); err != nil { // commits the size floor, syncs
			nf.Close()
			return err
		}
		return nf.Close()
	})
}

// RekeyPlainFile re-keys the file at path inside a kmsfs mount: it copies
// the plaintext through the mount into a new file beside it (which the
// mount creates with a fresh DEK and file ID), syncs it, copies mode,
// owner, user xattrs and times, renames it over path and syncs the
// directory. Open handles of the old file keep reading the old contents.
func RekeyPlainFile(ctx context.Context, path string) error {
	src, st, err := openSource(path)
	if err != nil {
		return err
	}
	defer src.Close()
	return replaceBeside(path, src, st, func(tmp *os.File) error {
		if err := copySparse(ctx, tmp, src, st.Size, mountZeroRun); err != nil {
			return err
		}
		return tmp.Sync()
	})
}

// openSource opens the file to re-key and checks it is a regular file
// with one name.
func openSource(path string) (*os.File, *unix.Stat_t, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("maintain: %w", err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("maintain: stat %s: %w", path, err)
	}
	switch {
	case st.Mode&unix.S_IFMT != unix.S_IFREG:
		err = fmt.Errorf("%w: %s", ErrBadPath, path)
	case st.Nlink > 1:
		err = fmt.Errorf("%w: %s has %d names", ErrHardLinks, path, st.Nlink)
	}
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, &st, nil
}

// replaceBeside creates a temporary file in path's directory, fills it
// with write (which must sync its data), gives it src's metadata, syncs
// it, renames it over path and syncs the directory. On failure the
// temporary file is removed and path is untouched.
func replaceBeside(path string, src *os.File, st *unix.Stat_t, write func(tmp *os.File) error) (err error) {
	dir := filepath.Dir(path)
	tmp, err := createRekeyTemp(dir)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := write(tmp); err != nil {
		return fmt.Errorf("maintain: writing %s: %w", tmp.Name(), err)
	}
	if err := copyMetadata(src, tmp, st); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("maintain: syncing %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("maintain: closing %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("maintain: %w", err)
	}
	return fsutil.SyncDirLenient(dir)
}

// createRekeyTemp creates a new, empty temporary file in dir.
func createRekeyTemp(dir string) (*os.File, error) {
	for range 10 {
		var rnd [8]byte
		if _, err := rand.Read(rnd[:]); err != nil {
			return nil, err
		}
		name := filepath.Join(dir, RekeyTempPrefix+hex.EncodeToString(rnd[:])+rekeyTempSuffix)
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if !errors.Is(err, os.ErrExist) {
			if err != nil {
				return nil, fmt.Errorf("maintain: %w", err)
			}
			return f, nil
		}
	}
	return nil, fmt.Errorf("maintain: no free temporary name in %s", dir)
}

// plainWriter is where copySparse writes: an *envelope.File or an
// *os.File in a mount.
type plainWriter interface {
	io.WriterAt
	Truncate(size int64) error
}

// mountZeroRun is the hole granularity of a re-key through a mount, which
// does not tell its chunk size: the default chunk size.
const mountZeroRun = envelope.DefaultChunkSize

// copySparse copies size bytes of plaintext from src to the empty dst.
// Aligned blocks of zeroRun bytes (the chunk size, a divisor of copyBlock)
// that are all zero are not written but left as holes (cut to size at the
// end), like cp --sparse=always: they read back as zeros, sparse files
// stay sparse, and an all-zero full chunk has no integrity a hole lacks
// (FORMAT.md, "Threat model").
func copySparse(ctx context.Context, dst plainWriter, src io.ReaderAt, size int64, zeroRun int) error {
	buf := make([]byte, copyBlock)
	defer clear(buf)
	for off := int64(0); off < size; off += copyBlock {
		if err := ctx.Err(); err != nil {
			return err
		}
		n := int(min(copyBlock, size-off))
		if _, err := src.ReadAt(buf[:n], off); err != nil && !(errors.Is(err, io.EOF)) {
			return fmt.Errorf("maintain: reading at %d: %w", off, err)
		}
		if err := writeNonZero(dst, buf[:n], off, zeroRun); err != nil {
			return err
		}
	}
	return dst.Truncate(size)
}

// writeNonZero writes the runs of p (at off) that are not all-zero
// zeroRun-sized blocks, each run in one call.
func writeNonZero(dst io.WriterAt, p []byte, off int64, zeroRun int) error {
	start := -1
	flush := func(end int) error {
		if start < 0 {
			return nil
		}
		_, err := dst.WriteAt(p[start:end], off+int64(start))
		start = -1
		if err != nil {
			return fmt.Errorf("maintain: writing at %d: %w", off, err)
		}
		return nil
	}
	for i := 0; i < len(p); i += zeroRun {
		j := min(i+zeroRun, len(p))
		if isZero(p[i:j]) {
			if err := flush(i); err != nil {
				return err
			}
			continue
		}
		if start < 0 {
			start = i
		}
	}
	return flush(len(p))
}

// copyMetadata gives dst src's owner, mode, extended attributes and times
// (in that order: chown clears set-id bits, and times go last because
// every other change touches the ctime and some the mtime).
func copyMetadata(src, dst *os.File, st *unix.Stat_t) error {
	fd := int(dst.Fd())
	if err := unix.Fchown(fd, int(st.Uid), int(st.Gid)); err != nil && !(errors.Is(err, unix.EPERM) && int(st.Uid) == os.Geteuid()) {
		return fmt.Errorf("maintain: chown %s: %w", dst.Name(), err)
	}
	if err := unix.Fchmod(fd, st.Mode&0o7777); err != nil {
		return fmt.Errorf("maintain: chmod %s: %w", dst.Name(), err)
	}
	if err := copyXattrs(src, dst); err != nil {
		return err
	}
	ts := []unix.Timespec{st.Atim, st.Mtim}
	if err := unix.UtimesNanoAt(fd, "", ts, unix.AT_EMPTY_PATH); err != nil {
		return fmt.Errorf("maintain: setting times of %s: %w", dst.Name(), err)
	}
	return nil
}

// copyXattrs copies every extended attribute of src to dst. Attributes
// outside the user namespace that dst's filesystem refuses (a security
// label it assigns itself, a mount that offers only user.*) are skipped.
func copyXattrs(src, dst *os.File) error {
	names, err := listXattrs(int(src.Fd()))
	if err != nil {
		return fmt.Errorf("maintain: listing xattrs of %s: %w", src.Name(), err)
	}
	for _, name := range names {
		val, err := getXattr(int(src.Fd()), name)
		if err != nil {
			return fmt.Errorf("maintain: reading xattr %s of %s: %w", name, src.Name(), err)
		}
		err = unix.Fsetxattr(int(dst.Fd()), name, val, 0)
		if err != nil && !strings.HasPrefix(name, "user.") &&
			(errors.Is(err, unix.EPERM) || errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.EACCES)) {
			continue
		}
		if err != nil {
			return fmt.Errorf("maintain: setting xattr %s on %s: %w", name, dst.Name(), err)
		}
	}
	return nil
}

// listXattrs returns the names of fd's extended attributes.
func listXattrs(fd int) ([]string, error) {
	buf, err := growRead(func(b []byte) (int, error) { return unix.Flistxattr(fd, b) })
	if errors.Is(err, unix.ENOTSUP) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var names []string
	for _, n := range strings.Split(string(buf), "\x00") {
		if n != "" {
			names = append(names, n)
		}
	}
	return names, nil
}

func getXattr(fd int, name string) ([]byte, error) {
	return growRead(func(b []byte) (int, error) { return unix.Fgetxattr(fd, name, b) })
}

// growRead calls read with a buffer large enough for its answer (the
// xattr calls report the size needed when given an empty buffer), retrying
// if the value grew in between.
func growRead(read func([]byte) (int, error)) ([]byte, error) {
	for range 5 {
		n, err := read(nil)
		if err != nil {
			return nil, err
		}
		buf := make([]byte, n)
		n, err = read(buf)
		if errors.Is(err, unix.ERANGE) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return buf[:n], nil
	}
	return nil, unix.ERANGE
}

// isZero reports whether b holds only zero bytes (a hole worth skipping).
func isZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
