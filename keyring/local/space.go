package local

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// A full disk (issue 12, item 1).
//
// Badger writes its memtable's write-ahead log (*.mem) and new table files
// through mmap into files it creates sparse (ftruncate). On a full
// filesystem the first store to a page without a block raises SIGBUS,
// which kills the process with a fault dump instead of returning ENOSPC.
// The keyring so never lets Badger reach that point:
//
//   - every write transaction (and Open, which creates a memtable) first
//     checks that the filesystem has spaceReserve bytes available, and
//     fails with an error wrapping syscall.ENOSPC otherwise: the key
//     operation fails with a one-line error, an audit flush logs a warning
//     and keeps its records for the next flush;
//   - after every write, and at Open, the write-ahead logs and Badger's
//     DISCARD file are fallocated to their full size, so later stores into
//     them never need a block;
//   - a ballast file, kmsfs-reserve (ballastSize bytes, fallocated), holds
//     space for Badger's own writes when the disk fills under it: Close
//     (whose memtable flush writes a table) and Open on a full disk delete
//     it first, and Open makes it again once there is room.
//
// What remains: another process filling the disk in the milliseconds
// between the check and Badger's store can still fault; the ballast makes
// that need a filler racing the keyring's own write.
const (
	spaceReserve = 24 << 20
	ballastSize  = 16 << 20
	ballastName  = "kmsfs-reserve"
)

// errNoSpace wraps syscall.ENOSPC with what the keyring needs.
func errNoSpace(dir string, avail uint64) error {
	return fmt.Errorf("keyring: the filesystem holding %s is full (%d KiB available, the keyring needs %d KiB to write safely): %w",
		dir, avail>>10, spaceReserve>>10, syscall.ENOSPC)
}

// available returns the bytes available to us on dir's filesystem.
func available(dir string) (uint64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return st.Bavail * uint64(st.Bsize), nil
}

// checkSpace fails with ENOSPC when a write could make Badger fault.
func (d *database) checkSpace() error {
	avail, err := available(d.dir)
	if err != nil {
		return nil // not knowing is no reason to refuse
	}
	if avail < spaceReserve {
		return errNoSpace(d.dir, avail)
	}
	return nil
}

// spaceError wraps a Badger error caused by a full disk so that it reads
// as one.
func spaceError(dir string, err error) error {
	if errors.Is(err, syscall.ENOSPC) && !strings.Contains(err.Error(), "is full") {
		avail, _ := available(dir)
		return fmt.Errorf("%w (%w)", errNoSpace(dir, avail), err)
	}
	return err
}

// preallocate gives every write-ahead log and the DISCARD file in dir
// their blocks, so Badger's stores into them through mmap never fault.
func preallocate(dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range ents {
		if filepath.Ext(e.Name()) != ".mem" && e.Name() != "DISCARD" {
			continue
		}
		errs = append(errs, fallocateAll(filepath.Join(dir, e.Name())))
	}
	return errors.Join(errs...)
}

// fallocateAll allocates every block of a file, keeping its size.
func fallocateAll(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // flushed and removed meanwhile
	}
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok || st.Size() == 0 || sys.Blocks*512 >= st.Size() {
		return nil
	}
	if err := unix.Fallocate(int(f.Fd()), unix.FALLOC_FL_KEEP_SIZE, 0, st.Size()); err != nil {
		return fmt.Errorf("keyring: preallocating %s: %w", filepath.Base(path), err)
	}
	return nil
}

// ensureBallast makes the ballast file when there is room for it and the
// reserve besides.
func ensureBallast(dir string) error {
	path := filepath.Join(dir, ballastName)
	if st, err := os.Stat(path); err == nil && st.Size() == ballastSize {
		return nil
	}
	avail, err := available(dir)
	if err != nil || avail < ballastSize+spaceReserve {
		return err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.Fallocate(int(f.Fd()), 0, 0, ballastSize); err != nil {
		os.Remove(path)
		return fmt.Errorf("keyring: making %s: %w", ballastName, err)
	}
	return nil
}

// spendBallast deletes the ballast when dir's filesystem lacks the
// reserve, so Badger can flush or open; it reports whether it did.
func spendBallast(dir string) bool {
	avail, err := available(dir)
	if err != nil || avail >= spaceReserve {
		return false
	}
	return os.Remove(filepath.Join(dir, ballastName)) == nil
}
