package fs

import (
	"errors"
	"fmt"
	iofs "io/fs"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/kmsfs/kmsfs/internal/names"
)

// encNames stores names encrypted as docs/NAMES.md specifies: EME under
// each directory's IV, long names with a side file, and every entry that
// does not decrypt listed under a marked name (NAMES.md §8) so that it stays
// visible and removable.
type encNames struct{ c *names.Codec }

var _ nameCodec = encNames{}

// encode returns the disk name of an existing entry. A marked name leads
// to the undecryptable entry it marks, and to nothing else: a decryptable
// entry has exactly one name (NAMES.md §8). Without a usable IV no plaintext name
// can exist in d (its entries are listed marked): ENOENT.
func (e encNames) encode(d dirRef, plain string) (string, error) {
	if names.IsMarked(plain) {
		return e.unmark(d, plain)
	}
	iv, err := d.loadIV()
	if err != nil {
		return "", fmt.Errorf("%w: %w", syscall.ENOENT, err)
	}
	disk, _, err := e.c.EncryptName(iv, plain)
	return disk, err
}

// unmark resolves a marked name to the entry listed under it.
func (e encNames) unmark(d dirRef, name string) (string, error) {
	disk, ok := names.Unmark(name)
	if !ok {
		return e.resolveHashed(d, name)
	}
	if names.IsReserved(disk) || e.listed(d, disk) != name {
		return "", syscall.ENOENT
	}
	return disk, nil
}

// resolveHashed finds the entry listed under a hashed mark, which only a
// listing can tell (NAMES.md §8). Such entries are rare: foreign names of more than
// 235 bytes.
func (e encNames) resolveHashed(d dirRef, name string) (string, error) {
	ents, err := readNames(d.abs)
	if err != nil {
		return "", err
	}
	for _, disk := range ents {
		if !names.IsReserved(disk) && names.Mark(disk) == name && e.listed(d, disk) == name {
			return disk, nil
		}
	}
	return "", syscall.ENOENT
}

// listed returns the name under which the entry disk of d is listed.
func (e encNames) listed(d dirRef, disk string) string {
	iv, err := d.loadIV()
	if err != nil {
		return names.Mark(disk)
	}
	return e.c.DecryptEntry(d.abs, iv, disk)
}

// prepare encrypts the name of a new entry. Without a usable IV it fails
// (EIO, logged): writing a new IV would orphan every existing name, for
// good once the original arrives late from a sync (NAMES.md §9). A marked name
// cannot be made (EPERM). A long name's side file is written first, so
// that a crash never leaves an entry without its name (NAMES.md §5).
func (e encNames) prepare(d dirRef, plain string) (string, func(), error) {
	iv, err := d.loadIV()
	if err != nil {
		return "", nil, err
	}
	disk, side, err := e.c.EncryptName(iv, plain)
	if err != nil {
		return "", nil, err
	}
	if side == "" {
		return disk, func() {}, nil
	}
	created, err := writeSide(d.abs, disk, side)
	if err != nil {
		return "", nil, err
	}
	return disk, func() {
		if created {
			_ = removeOrphanSide(d.abs, disk)
		}
	}, nil
}

func (e encNames) decode(d dirRef, disk string) (string, error) {
	if names.IsReserved(disk) {
		return "", errSkipName
	}
	return e.listed(d, disk), nil
}

// gone removes the side file of a long name once its entry is gone (NAMES.md §5:
// entry first, then side file).
func (e encNames) gone(d dirRef, disk string) error {
	if !names.IsLong(disk) {
		return nil
	}
	return removeOrphanSide(d.abs, disk)
}

// initDir gives a new directory its IV file (NAMES.md §3).
func (e encNames) initDir(abs string) (*[names.DirIVSize]byte, error) {
	iv, err := names.NewDirIV()
	if err != nil {
		return nil, err
	}
	if err := names.WriteDirIV(abs, iv); err != nil {
		return nil, err
	}
	return &iv, nil
}

func (e encNames) check(d dirRef) error {
	_, err := d.loadIV()
	return err
}

// clearDir empties a directory that holds nothing but kmsfs's own files
// (its IV file, copies of it, orphaned side files), so that it can be
// removed or renamed over; the IV file goes last. restore puts the IV
// back, for when that fails after all (a file appeared behind the
// mount's back). Anything else in the directory is ENOTEMPTY.
func (e encNames) clearDir(abs string) (restore func(), err error) {
	ents, err := readNames(abs)
	if err != nil {
		return nil, err
	}
	for _, n := range ents {
		if !names.IsReserved(n) {
			return nil, unix.ENOTEMPTY
		}
	}
	iv, ivErr := names.ReadDirIV(abs)
	restore = func() {
		if ivErr == nil {
			_ = names.WriteDirIV(abs, iv)
		}
	}
	for _, n := range ents {
		if n != names.DirIVFile {
			if err := unix.Unlink(filepath.Join(abs, n)); err != nil {
				return nil, err
			}
		}
	}
	if err := unix.Unlink(filepath.Join(abs, names.DirIVFile)); err != nil && !errors.Is(err, unix.ENOENT) {
		return nil, err
	}
	return restore, nil
}

// readNames lists the names in dir.
func readNames(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.Readdirnames(-1)
}

// writeSide creates the side file of the long name disk in dir with mode
// 0400 (NAMES.md §5) and reports whether it made it. A side file already holding
// side (the name exists, or a crash left it) is kept. A wrong one is
// replaced: its content is fixed by the hash in disk, so nothing is lost.
func writeSide(dir, disk, side string) (created bool, err error) {
	p := filepath.Join(dir, names.LongSideFile(disk))
	for range 2 {
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o400)
		if err == nil {
			_, err = f.WriteString(side)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				_ = os.Remove(p)
				return false, err
			}
			return true, nil
		}
		if !errors.Is(err, iofs.ErrExist) {
			return false, err
		}
		if got, rerr := names.ReadLongSide(dir, disk); rerr == nil && got == side {
			return false, nil
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, iofs.ErrNotExist) {
			return false, err
		}
	}
	return false, fmt.Errorf("fs: long name side file keeps reappearing: %w", iofs.ErrExist)
}

// removeOrphanSide removes the side file of the long name disk in dir if
// no entry has that name (any more): a side file belongs to the name, and
// a name can outlive one of its entries (rename over it, a failed create
// of an existing name).
func removeOrphanSide(dir, disk string) error {
	if _, err := os.Lstat(filepath.Join(dir, disk)); !errors.Is(err, iofs.ErrNotExist) {
		return nil
	}
	err := os.Remove(filepath.Join(dir, names.LongSideFile(disk)))
	if errors.Is(err, iofs.ErrNotExist) {
		return nil
	}
	return err
}
