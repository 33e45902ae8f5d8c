package names

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/kmsfs/kmsfs/internal/fsutil"
)

// DirIVFile is the name of the per-directory IV file, NAMES.md §3: exactly
// 16 random bytes, mode 0400, in every encrypted directory.
const DirIVFile = "kmsfs.diriv"

// NewDirIV returns a fresh random directory IV. It never returns the all-zero
// IV, which ParseDirIV rejects as a zero-filled (damaged) file.
func NewDirIV() ([DirIVSize]byte, error) {
	var iv [DirIVSize]byte
	for iv == ([DirIVSize]byte{}) {
		if _, err := rand.Read(iv[:]); err != nil {
			return iv, fmt.Errorf("names: new dir IV: %w", err)
		}
	}
	return iv, nil
}

// ParseDirIV checks the content of an IV file read by the caller (for
// example through a directory file descriptor). Anything but 16 bytes that
// are not all zero fails with [ErrBadDirIV].
func ParseDirIV(content []byte) ([DirIVSize]byte, error) {
	var iv [DirIVSize]byte
	if len(content) != DirIVSize {
		return iv, ErrBadDirIV
	}
	copy(iv[:], content)
	if iv == ([DirIVSize]byte{}) {
		return iv, ErrBadDirIV
	}
	return iv, nil
}

// ReadDirIV reads dir's IV file. A missing file fails with [ErrNoDirIV]; a
// symlink, a non-regular file (a FIFO would block) or bad content fails with
// [ErrBadDirIV]. Copies of the file are never consulted (NAMES.md §9).
func ReadDirIV(dir string) ([DirIVSize]byte, error) {
	path := filepath.Join(dir, DirIVFile)
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return [DirIVSize]byte{}, fmt.Errorf("%w: %s", ErrNoDirIV, path)
	case errors.Is(err, syscall.ELOOP):
		return [DirIVSize]byte{}, fmt.Errorf("%w: %s is a symlink", ErrBadDirIV, path)
	case err != nil:
		return [DirIVSize]byte{}, fmt.Errorf("names: read dir IV: %w", err)
	}
	defer f.Close()
	content, err := readRegular(f, DirIVSize+1)
	if err != nil {
		return [DirIVSize]byte{}, fmt.Errorf("names: read dir IV %s: %w", path, err)
	}
	iv, err := ParseDirIV(content)
	if err != nil {
		return iv, fmt.Errorf("%w: %s", err, path)
	}
	return iv, nil
}

// readRegular reads at most limit bytes from f, which must be a regular file.
func readRegular(f *os.File, limit int64) ([]byte, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, ErrBadDirIV
	}
	return io.ReadAll(io.LimitReader(f, limit))
}

// WriteDirIV durably creates dir's IV file: write a temporary file, fsync,
// rename, fsync dir. It refuses to replace an existing IV file
// ([ErrDirIVExists]). The temporary name is reserved ([IsReserved]), so a
// crash leaves nothing visible.
func WriteDirIV(dir string, iv [DirIVSize]byte) error {
	if _, err := ParseDirIV(iv[:]); err != nil {
		return fmt.Errorf("names: write dir IV: %w", err)
	}
	path := filepath.Join(dir, DirIVFile)
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("%w: %s", ErrDirIVExists, path)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("names: write dir IV: %w", err)
	}
	tmp, err := writeTemp(dir, iv[:])
	if err != nil {
		return fmt.Errorf("names: write dir IV: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("names: write dir IV: %w", err)
	}
	if err := fsutil.SyncDir(dir); err != nil {
		return fmt.Errorf("names: write dir IV: %w", err)
	}
	return nil
}

// writeTemp writes b to a new mode-0400 file "kmsfs.diriv.tmp-<random>" in
// dir, fsyncs it and returns its path. On error nothing is left behind.
func writeTemp(dir string, b []byte) (string, error) {
	var r [8]byte
	_, _ = rand.Read(r[:]) // never fails (crypto/rand.Read doc)
	path := filepath.Join(dir, DirIVFile+".tmp-"+hex.EncodeToString(r[:]))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o400)
	if err != nil {
		return "", err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(path)
		return "", err
	}
	return path, nil
}
