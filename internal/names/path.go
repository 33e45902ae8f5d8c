package names

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
)

// maxSideLen is the longest valid long-name side file: the encoding of a
// 255-byte name (342 characters). ReadLongSide reads one byte more so that
// a longer file is rejected rather than cut.
var maxSideLen = b64.EncodedLen(maxPadded)

// ReadLongSide reads the side file of the long name diskName in dir and
// returns the encoded name it holds, checked by [ParseLongSide]. A missing,
// non-regular, symlinked or wrong side file fails; the caller then shows
// the entry marked (NAMES.md §8).
func ReadLongSide(dir, diskName string) (string, error) {
	if !IsLong(diskName) {
		return "", ErrBadName
	}
	path := filepath.Join(dir, LongSideFile(diskName))
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return "", fmt.Errorf("names: long name side file: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("names: long name side file: %w", err)
	}
	if !st.Mode().IsRegular() || st.Size() > int64(maxSideLen) {
		return "", ErrBadName
	}
	buf := make([]byte, maxSideLen+1)
	n, err := f.ReadAt(buf, 0)
	if err != nil && n == 0 {
		return "", fmt.Errorf("names: long name side file: %w", err)
	}
	return ParseLongSide(diskName, buf[:n])
}

// DecryptEntry returns the name under which the entry diskName of dir is
// listed, given dir's IV (NAMES.md §8): its plaintext name, or [Mark] of
// diskName when it does not decrypt. It reads the side file of a long name.
// Reserved names ([IsReserved]) are the caller's to skip.
func (c *Codec) DecryptEntry(dir string, dirIV [DirIVSize]byte, diskName string) string {
	encoded := diskName
	switch {
	case len(diskName) > MaxNameLen:
		// No filesystem holds it, and its name would be stored as a long
		// name: accepting it would give one name two disk names (NAMES.md §5).
		return Mark(diskName)
	case IsLong(diskName):
		var err error
		if encoded, err = ReadLongSide(dir, diskName); err != nil {
			return Mark(diskName)
		}
	}
	name, err := c.DecryptName(dirIV, encoded)
	if err != nil {
		return Mark(diskName)
	}
	return name
}

// A Tree maps paths of one CIPHERDIR between their stored form (cipher
// paths, as a tree walk sees them) and the plaintext paths the mount
// shows, reading each directory's IV file once. It is for tools that work
// on a CIPHERDIR directly (fsck, rewrap, error reports) and implements
// their display interface (Display). It is safe for concurrent use.
//
// A Tree caches directory IVs (and their absence) for its lifetime, which
// is right for one tool run: a directory's IV never changes while the
// directory exists.
type Tree struct {
	c   *Codec
	dir string

	mu  sync.Mutex
	ivs map[string]ivResult // cipher-relative directory ("" for the root)
}

type ivResult struct {
	iv  [DirIVSize]byte
	err error
}

// NewTree returns a Tree over cipherDir whose names are encrypted with c.
func NewTree(c *Codec, cipherDir string) *Tree {
	return &Tree{c: c, dir: cipherDir, ivs: map[string]ivResult{}}
}

// dirIV returns the IV of the cipher-relative directory rel.
func (t *Tree) dirIV(rel string) ([DirIVSize]byte, error) {
	t.mu.Lock()
	r, ok := t.ivs[rel]
	t.mu.Unlock()
	if ok {
		return r.iv, r.err
	}
	r.iv, r.err = ReadDirIV(filepath.Join(t.dir, filepath.FromSlash(rel)))
	t.mu.Lock()
	t.ivs[rel] = r
	t.mu.Unlock()
	return r.iv, r.err
}

// PlainPath returns the plaintext path of rel, a slash-separated path
// relative to the CIPHERDIR ("." or "" for the root itself), component by
// component with each directory's IV. A component that does not decrypt,
// or whose directory has no readable IV, is shown as the mount lists it:
// marked ([Mark]). Reserved names ([IsReserved]: IV and side files) are
// kmsfs's own and shown as stored. PlainPath never fails: it is for
// messages that must name a file however damaged its path is.
func (t *Tree) PlainPath(rel string) string {
	if rel == "" || rel == "." {
		return rel
	}
	parts := strings.Split(rel, "/")
	out := make([]string, len(parts))
	dir := ""
	for i, disk := range parts {
		switch iv, err := t.dirIV(dir); {
		case disk == "" || IsReserved(disk):
			out[i] = disk
		case err != nil:
			out[i] = Mark(disk)
		default:
			out[i] = t.c.DecryptEntry(filepath.Join(t.dir, filepath.FromSlash(dir)), iv, disk)
		}
		dir = joinRel(dir, disk)
	}
	return strings.Join(out, "/")
}

// Display returns PlainPath(rel); it lets a Tree show the paths of
// maintenance reports (internal/maintain's Namer).
func (t *Tree) Display(rel string) string { return t.PlainPath(rel) }

// CipherPath returns the cipher path (slash-separated, relative to the
// CIPHERDIR) of plain, a plaintext path relative to the mount's root,
// whether or not the entry exists yet. A marked component names the
// undecryptable entry it marks. It fails with [ErrNoDirIV] or
// [ErrBadDirIV] when a directory on the way has no usable IV, and with
// fs.ErrNotExist for a hashed mark that no entry matches.
func (t *Tree) CipherPath(plain string) (string, error) {
	plain = strings.Trim(plain, "/")
	if plain == "" || plain == "." {
		return ".", nil
	}
	var out []string
	dir := ""
	for _, name := range strings.Split(plain, "/") {
		disk, err := t.encryptComponent(dir, name)
		if err != nil {
			return "", fmt.Errorf("names: cipher path of %q: %w", plain, err)
		}
		out = append(out, disk)
		dir = joinRel(dir, disk)
	}
	return strings.Join(out, "/"), nil
}

// encryptComponent returns the disk name of name in the cipher directory
// dir.
func (t *Tree) encryptComponent(dir, name string) (string, error) {
	if disk, ok := Unmark(name); ok {
		return disk, nil
	}
	iv, err := t.dirIV(dir)
	if IsMarked(name) {
		return t.resolveHashedMark(dir, iv, err == nil, name)
	}
	if err != nil {
		return "", err
	}
	disk, _, err := t.c.EncryptName(iv, name)
	return disk, err
}

// resolveHashedMark finds the entry of dir that is listed as the hashed
// mark name (NAMES.md §8).
// Without a usable IV (haveIV false) every entry is listed marked.
func (t *Tree) resolveHashedMark(dir string, iv [DirIVSize]byte, haveIV bool, name string) (string, error) {
	abs := filepath.Join(t.dir, filepath.FromSlash(dir))
	ents, err := os.ReadDir(abs)
	if err != nil {
		return "", err
	}
	for _, e := range ents {
		d := e.Name()
		if !IsReserved(d) && Mark(d) == name && (!haveIV || t.c.DecryptEntry(abs, iv, d) == name) {
			return d, nil
		}
	}
	return "", fs.ErrNotExist
}

func joinRel(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}
