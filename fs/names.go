package fs

import (
	"errors"
	"strings"
)

var (
	// errReservedName is returned for a name kmsfs keeps for itself at the
	// root of CIPHERDIR (kmsfs.conf, ...): it can be neither seen nor made.
	errReservedName = errors.New("fs: name is reserved by kmsfs")
	// errBadName is returned when a backing name cannot be decoded.
	errBadName = errors.New("fs: undecodable file name")
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
}

// identityNames stores names unchanged.
type identityNames struct{}

func (identityNames) encode(dir, plain string) (string, error)   { return plain, nil }
func (identityNames) decode(dir, backing string) (string, error) { return backing, nil }

// validName reports whether name can be a single path component.
func validName(name string) bool {
	return name != "" && name != "." && name != ".." && !strings.ContainsRune(name, '/')
}
