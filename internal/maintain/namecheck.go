package maintain

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/kmsfs/kmsfs/internal/names"
)

// Problems of encrypted names (docs/NAMES.md) that fsck reports; each
// also wraps the names sentinel that says what failed.
var (
	// ErrOrphanSide reports a long-name side file whose long name is not
	// in the directory. It hides nothing and is never deleted by kmsfs.
	ErrOrphanSide = errors.New("maintain: long-name side file without its entry")
)

// xattrBindingName holds a file's xattr binding ID (docs/NAMES.md §12),
// 16 bytes, outside names.XattrPrefix.
const (
	xattrBindingName = "user.kmsfs-id"
	xattrBindingSize = 16
)

// NameProblem is one damaged name-level item: a directory whose IV file is
// missing or damaged, an entry whose name does not decrypt, a symlink
// target or xattr that fails authentication, an orphaned side file.
type NameProblem struct {
	// Rel is the cipher path (relative to the CIPHERDIR) of the directory
	// or entry concerned; show it through a [Namer].
	Rel string
	// Dir is set when the problem is the directory's IV file.
	Dir bool
	Err error
}

// CheckNames verifies, read-only, every name-level item of the encrypted-
// names tree at cipherDir with codec: each directory's IV file, each
// entry's name (long names through their side file), each symlink's
// target, each encrypted xattr's name and value, and that every side file
// belongs to an entry. It calls report for each problem and returns how
// many items it checked. A directory without a usable IV cannot have its
// names checked; its subdirectories are still walked (they have IVs of
// their own).
//
// The entries fsck --repair moved into lost+found/<dir>/ ([RepairDirIV])
// keep names that cannot decrypt there; they are counted in inLost, not
// reported.
func CheckNames(ctx context.Context, cipherDir string, codec *names.Codec, report func(NameProblem)) (checked, inLost int64, err error) {
	nc := &nameCheck{codec: codec, root: cipherDir, report: report}
	if rel, _, err := childPath(cipherDir, ".", LostFound, codec); err == nil {
		nc.lostFound = rel
	}
	err = filepath.WalkDir(cipherDir, func(p string, d fs.DirEntry, err error) error {
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		if err != nil {
			if p == cipherDir {
				return err
			}
			nc.problem(nc.rel(p), false, err)
			return nil
		}
		if d.IsDir() {
			nc.dir(p)
		}
		return nil
	})
	return nc.checked, nc.inLost, err
}

type nameCheck struct {
	codec     *names.Codec
	root      string
	report    func(NameProblem)
	lostFound string // cipher path of lost+found, "" if the root has no IV
	checked   int64
	inLost    int64
}

func (nc *nameCheck) rel(p string) string {
	r, err := filepath.Rel(nc.root, p)
	if err != nil {
		return p
	}
	return filepath.ToSlash(r)
}

func (nc *nameCheck) problem(rel string, dir bool, err error) {
	nc.report(NameProblem{Rel: rel, Dir: dir, Err: err})
}

// dir checks directory p: its IV, then each entry.
func (nc *nameCheck) dir(p string) {
	rel := nc.rel(p)
	nc.checked++
	ents, err := os.ReadDir(p)
	if err != nil {
		nc.problem(rel, true, fmt.Errorf("maintain: listing: %w", err))
		return
	}
	iv, ivErr := names.ReadDirIV(p)
	if ivErr != nil {
		nc.problem(rel, true, fmt.Errorf("%w (the names of its %d entries cannot be decrypted)", ivErr, countEntries(ents)))
	}
	present := map[string]bool{}
	for _, e := range ents {
		present[e.Name()] = true
	}
	atRoot := rel == "."
	lost := nc.lostFound != "" && path.Dir(rel) == nc.lostFound
	for _, e := range ents {
		name := e.Name()
		erel := path.Join(rel, name)
		switch {
		case atRoot && (name == "kmsfs.conf" || name == configTemp):
			continue
		case names.IsReserved(name):
			nc.side(p, erel, name, present)
			continue
		}
		nc.checked++
		switch {
		case lost:
			nc.inLost++ // its name belongs to the directory it lost its IV in
		case ivErr == nil:
			nc.name(p, erel, iv, name)
		}
		nc.meta(filepath.Join(p, name), erel, e.Type())
	}
}

// countEntries counts the entries that carry names (not kmsfs's own files).
func countEntries(ents []fs.DirEntry) int {
	n := 0
	for _, e := range ents {
		if !names.IsReserved(e.Name()) && e.Name() != "kmsfs.conf" {
			n++
		}
	}
	return n
}

// name checks that the entry's disk name decrypts under the directory's IV.
func (nc *nameCheck) name(dir, rel string, iv [names.DirIVSize]byte, disk string) {
	encoded := disk
	if names.IsLong(disk) {
		var err error
		if encoded, err = names.ReadLongSide(dir, disk); err != nil {
			nc.problem(rel, false, fmt.Errorf("%w: long name: its side file is missing or wrong: %w", names.ErrBadName, err))
			return
		}
	}
	if _, err := nc.codec.DecryptName(iv, encoded); err != nil {
		nc.problem(rel, false, fmt.Errorf("%w: the name does not decrypt under its directory's IV (damaged, or moved in from elsewhere)", names.ErrBadName))
	}
}

// side checks that a long-name side file belongs to an entry; other
// reserved names (IV file, its copies) are left to dir.
func (nc *nameCheck) side(dir, rel, name string, present map[string]bool) {
	long, ok := strings.CutSuffix(name, names.LongSuffix)
	if !ok || !names.IsLong(long) {
		return
	}
	nc.checked++
	if !present[long] {
		nc.problem(rel, false, ErrOrphanSide)
	}
}

// meta checks what an entry carries besides its name: a symlink's target,
// encrypted xattrs.
func (nc *nameCheck) meta(p, rel string, typ fs.FileMode) {
	if typ&fs.ModeSymlink != 0 {
		target, err := os.Readlink(p)
		if err == nil {
			_, err = nc.codec.DecryptTarget(target)
		}
		if err != nil {
			nc.problem(rel, false, fmt.Errorf("symlink target: %w", err))
		}
		return // user xattrs on symlinks do not exist on Linux
	}
	for _, err := range nc.xattrs(p) {
		nc.problem(rel, false, err)
	}
}

// xattrs checks every encrypted xattr of p: its name decrypts, and its
// value opens under the file's binding ID.
func (nc *nameCheck) xattrs(p string) []error {
	list, err := llistXattrs(p)
	if err != nil {
		return []error{fmt.Errorf("maintain: listing xattrs: %w", err)}
	}
	var errs []error
	var binding []byte
	for _, disk := range list {
		if !strings.HasPrefix(disk, names.XattrPrefix) {
			continue
		}
		nc.checked++
		plain, err := nc.codec.DecryptXattrName(disk)
		if err != nil {
			errs = append(errs, fmt.Errorf("xattr %.40q: name: %w", disk, err))
			continue
		}
		if binding == nil {
			if binding, err = lgetXattr(p, xattrBindingName); err != nil || len(binding) != xattrBindingSize {
				binding = []byte{}
			}
		}
		value, err := lgetXattr(p, disk)
		if err == nil {
			_, err = nc.codec.OpenXattrValue(binding, plain, value)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("xattr user.%s: value: %w", plain, err))
		}
	}
	return errs
}

// llistXattrs returns the xattr names of p (not following a symlink).
func llistXattrs(p string) ([]string, error) {
	buf, err := growRead(func(b []byte) (int, error) { return unix.Llistxattr(p, b) })
	if errors.Is(err, unix.ENOTSUP) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, s := range strings.Split(string(buf), "\x00") {
		if s != "" {
			out = append(out, s)
		}
	}
	return out, nil
}

// lgetXattr returns the value of xattr name of p.
func lgetXattr(p, name string) ([]byte, error) {
	return growRead(func(b []byte) (int, error) { return unix.Lgetxattr(p, name, b) })
}
