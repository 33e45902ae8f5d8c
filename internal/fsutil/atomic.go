package fsutil

import (
	"errors"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// SyncDir fsyncs dir, making a rename or create in it durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// SyncDirLenient is SyncDir on filesystems that may not sync directories: a
// FUSE mount may answer ENOSYS, EINVAL or ENOTSUP, which it accepts.
func SyncDirLenient(dir string) error {
	err := SyncDir(dir)
	if errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOTSUP) {
		return nil
	}
	return err
}

// Replace makes path hold what write puts in a new file, all or nothing: it
// creates a temporary file in path's directory named by pattern (as
// [os.CreateTemp]; "" means "."+base+".tmp*"), with mode, lets write fill
// it, fsyncs, closes and renames it over path, then fsyncs the directory. On
// any failure the temporary file is removed and path is left as it was.
func Replace(path string, mode os.FileMode, pattern string, write func(*os.File) error) error {
	dir := filepath.Dir(path)
	if pattern == "" {
		pattern = "." + filepath.Base(path) + ".tmp*"
	}
	tmp, err := os.CreateTemp(dir, pattern) // O_EXCL, mode 0600
	if err != nil {
		return err
	}
	err = tmp.Chmod(mode)
	if err == nil {
		err = write(tmp)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return testOnlySyncDir(dir)
}

// testOnlySyncDir is SyncDir; a test replaces it to see when it runs.
var testOnlySyncDir = SyncDir

// WriteFile replaces path with data through [Replace].
func WriteFile(path string, data []byte, mode os.FileMode) error {
	return Replace(path, mode, "", func(f *os.File) error {
		_, err := f.Write(data)
		return err
	})
}
