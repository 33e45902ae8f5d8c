package fs

import (
	"errors"
	"path"
	"strings"
)

var (
	// errReservedName is returned for a name kmsfs keeps for itself at the
	// root of CIPHERDIR (kmsfs.conf, ...): it can be neither seen nor made.
	errReservedName = errors.New("fs: name is reserved by kmsfs")
	// errBadName is returned when a backing name cannot be decoded.
	errBadName = errors.New("fs: undecodable file name")
	// errSkipName is returned by decode for a backing name the codec keeps
	// for itself (a per-directory IV file, a long name's side file): it is
	// left out of listings without a warning.
	errSkipName = errors.New("fs: name belongs to the name codec")
)

// nameCodec translates one path component between the name a program sees
// through the mount (plain) and the name stored in CIPHERDIR (backing).
//
// Every name that crosses the mount (lookup, create, mkdir, mknod, symlink,
// link, rename, unlink, rmdir, readdir) goes through exactly one nameCodec,
// so that encrypted names plug in here without touching each operation. dir
// is the backing directory that holds (or will hold) the name, which is where
// a per-directory IV would be found.
type nameCodec interface {
	encode(dir, plain string) (backing string, err error)
	decode(dir, backing string) (plain string, err error)
	// made is told that an entry was just created under backing name in
	// dir, and gone that one was removed, so that a codec can keep state
	// beside the entry (a long name's side file). A failing made undoes
	// the creation.
	made(dir, plain, backing string) error
	gone(dir, backing string) error
}

// identityNames stores names unchanged.
type identityNames struct{}

func (identityNames) encode(dir, plain string) (string, error)   { return plain, nil }
func (identityNames) decode(dir, backing string) (string, error) { return backing, nil }
func (identityNames) made(dir, plain, backing string) error      { return nil }
func (identityNames) gone(dir, backing string) error             { return nil }

// splitRel splits a backing path relative to CipherDir into its directory
// (relative, "." for the root) and its last name.
func splitRel(rel string) (dir, name string) {
	i := strings.LastIndexByte(rel, '/')
	if i < 0 {
		return ".", rel
	}
	return rel[:i], rel[i+1:]
}

// made tells the name codec that rel, plaintext path plain, was created.
func (r *root) made(plain, rel string) error {
	dir, name := splitRel(rel)
	return r.names.made(r.abs(dir), path.Base(plain), name)
}

// gone tells the name codec that rel was removed. The removal is done, so
// a codec failure is only logged.
func (r *root) gone(plain, rel string) {
	dir, name := splitRel(rel)
	if err := r.names.gone(r.abs(dir), name); err != nil {
		r.fail(err, plain)
	}
}

// validName reports whether name can be a single path component.
func validName(name string) bool {
	return name != "" && name != "." && name != ".." && !strings.ContainsRune(name, '/')
}
