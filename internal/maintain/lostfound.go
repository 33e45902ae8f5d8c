package maintain

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/kmsfs/kmsfs/internal/fsutil"
	"github.com/kmsfs/kmsfs/internal/names"
)

// LostFound is the plaintext name of the directory at the root of an
// encrypted-names volume into which fsck --repair moves the entries of a
// directory that lost its IV file.
const LostFound = "lost+found"

// ErrRootIV reports that the root directory's IV file is the one lost:
// lost+found lives in the root, so RepairDirIV cannot move its entries.
var ErrRootIV = errors.New("maintain: the root directory's IV file is missing; restore it from a backup of the CIPHERDIR")

// RepairDirIV repairs the directory rel (a cipher path) of the encrypted-
// names tree at cipherDir whose IV file is missing (names.ErrNoDirIV):
// without the IV none of its names can ever be decrypted again, and the
// mount cannot create entries in it. Its entries (with their long-name side
// files) are moved into a new directory lost+found/<label> (label: how the
// damaged directory is shown, slashes replaced), under disk names that
// cannot decode (see lostName), so that the mount lists every one of them
// marked (docs/NAMES.md §8) with its contents intact; then the directory
// gets a fresh IV and is usable again. Nothing is deleted. It returns the
// cipher path of the directory the entries went to and how many were
// moved.
func RepairDirIV(cipherDir, rel, label string, codec *names.Codec) (dest string, moved int, err error) {
	if rel == "." || rel == "" {
		return "", 0, ErrRootIV
	}
	dir := filepath.Join(cipherDir, filepath.FromSlash(rel))
	if _, err := names.ReadDirIV(dir); !errors.Is(err, names.ErrNoDirIV) {
		return "", 0, fmt.Errorf("maintain: %s: only a missing IV file is repaired (%w)", rel, err)
	}
	lf, err := childDir(cipherDir, ".", LostFound, codec)
	if err != nil {
		return "", 0, err
	}
	dest, err = newChildDir(cipherDir, lf, strings.ReplaceAll(label, "/", "%"), codec)
	if err != nil {
		return "", 0, err
	}
	destAbs := filepath.Join(cipherDir, filepath.FromSlash(dest))
	if moved, err = moveEntries(dir, destAbs); err != nil {
		return dest, moved, err
	}
	if err := fsutil.SyncDir(destAbs); err != nil {
		return dest, moved, err
	}
	iv, err := names.NewDirIV()
	if err != nil {
		return dest, moved, err
	}
	return dest, moved, names.WriteDirIV(dir, iv)
}

// moveEntries renames every entry of src that carries a name, with the
// side file of a long name, into dst; kmsfs's other files stay.
func moveEntries(src, dst string) (int, error) {
	ents, err := os.ReadDir(src)
	if err != nil {
		return 0, fmt.Errorf("maintain: %w", err)
	}
	moved := 0
	for _, e := range ents {
		name := e.Name()
		if names.IsReserved(name) {
			continue
		}
		lost := lostName(name)
		if err := renameNoReplace(filepath.Join(src, name), filepath.Join(dst, lost)); err != nil {
			return moved, err
		}
		moved++
		if names.IsLong(name) {
			// Kept beside its entry, hidden as reserved, and no longer a
			// long name's side file (lost is not a long name).
			side := names.LongSideFile(name)
			err := renameNoReplace(filepath.Join(src, side), filepath.Join(dst, names.LongSideFile(lost)))
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				return moved, err
			}
		}
	}
	return moved, fsutil.SyncDir(src)
}

// lostName is the disk name under which an entry of a directory that
// lost its IV is kept in lost+found. Its old name can never be decrypted
// again, but under lost+found's IV it would decrypt by chance (names are
// not authenticated; a random block passes the padding check about once
// in 256), and the entry would show under a garbage name instead of a
// marked one. A '~' is outside base64url, so the new name never decodes;
// it keeps the old name, which is unique in the directory, so that names
// stay unique and traceable.
func lostName(disk string) string {
	if len(disk) < names.MaxNameLen {
		return disk + "~"
	}
	sum := sha256.Sum256([]byte(disk))
	return "lost~" + base64.RawURLEncoding.EncodeToString(sum[:])
}

// renameNoReplace renames, never over an existing entry.
func renameNoReplace(from, to string) error {
	if _, err := os.Lstat(to); err == nil {
		return fmt.Errorf("maintain: %s: %w", to, fs.ErrExist)
	}
	if err := os.Rename(from, to); err != nil {
		return fmt.Errorf("maintain: %w", err)
	}
	return nil
}

// childDir returns the cipher path of the directory plain in the cipher
// directory parent, creating it (with an IV file) if it does not exist.
func childDir(cipherDir, parent, plain string, codec *names.Codec) (string, error) {
	rel, abs, err := childPath(cipherDir, parent, plain, codec)
	if err != nil {
		return "", err
	}
	if fi, err := os.Lstat(abs); err == nil {
		if !fi.IsDir() {
			return "", fmt.Errorf("maintain: %s exists and is not a directory", plain)
		}
		return rel, nil
	}
	return rel, makeDir(abs)
}

// newChildDir creates a new directory named plain (or plain-2, -3, ...)
// in parent and returns its cipher path.
func newChildDir(cipherDir, parent, plain string, codec *names.Codec) (string, error) {
	if len(plain) > 200 {
		plain = plain[len(plain)-200:]
	}
	for i := 1; i < 1000; i++ {
		name := plain
		if i > 1 {
			name += "-" + strconv.Itoa(i)
		}
		rel, abs, err := childPath(cipherDir, parent, name, codec)
		if err != nil {
			return "", err
		}
		if _, err := os.Lstat(abs); err == nil {
			continue
		}
		return rel, makeDir(abs)
	}
	return "", fmt.Errorf("maintain: no free name for %q in %s", plain, LostFound)
}

// childPath encrypts plain under parent's IV. Names long enough to need a
// side file are refused: lost+found names are short.
func childPath(cipherDir, parent, plain string, codec *names.Codec) (rel, abs string, err error) {
	pabs := filepath.Join(cipherDir, filepath.FromSlash(parent))
	iv, err := names.ReadDirIV(pabs)
	if err != nil {
		return "", "", err
	}
	disk, side, err := codec.EncryptName(iv, plain)
	if err != nil {
		return "", "", err
	}
	if side != "" {
		return "", "", fmt.Errorf("maintain: %q: %w", plain, names.ErrTooLong)
	}
	return filepath.ToSlash(filepath.Join(parent, disk)), filepath.Join(pabs, disk), nil
}

// makeDir creates an encrypted directory: the directory, then its IV file.
func makeDir(abs string) error {
	if err := os.Mkdir(abs, 0o700); err != nil {
		return fmt.Errorf("maintain: %w", err)
	}
	iv, err := names.NewDirIV()
	if err != nil {
		return err
	}
	if err := names.WriteDirIV(abs, iv); err != nil {
		return err
	}
	return fsutil.SyncDir(filepath.Dir(abs))
}
