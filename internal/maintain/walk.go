package maintain

import (
	"context"
	"io/fs"
	"path"
	"path/filepath"
	"strings"

	"github.com/kmsfs/kmsfs/internal/names"
	"github.com/kmsfs/kmsfs/internal/volume"
)

// Kind classifies an entry of a CIPHERDIR.
type Kind int

const (
	// KindFile is a regular file that holds, or should hold, a kmsfs
	// ciphertext file.
	KindFile Kind = iota
	// KindOwn is kmsfs's own metadata: the volume config at the root, dir
	// IV files and long-name side files (names.IsReserved). Jobs never
	// touch them.
	KindOwn
	// KindStray is a temporary file left behind by an interrupted kmsfs
	// write: kmsfs.conf.tmp at the root, or a re-key temporary anywhere.
	// fsck reports it; other jobs skip it.
	KindStray
	// KindSpecial is not a regular file: a symlink, device, FIFO or socket.
	// Only regular files have contents to encrypt.
	KindSpecial
)

func (k Kind) String() string {
	switch k {
	case KindFile:
		return "file"
	case KindOwn:
		return "kmsfs metadata"
	case KindStray:
		return "stray temporary file"
	case KindSpecial:
		return "special file"
	}
	return "unknown"
}

// RekeyTempPrefix starts the name of the temporary file that a re-key
// writes beside the file it replaces. The leading dot keeps it out of
// names.IsReserved's "kmsfs" prefix, and no encrypted name contains '.'
// or '-', so it can only collide with a plaintext name chosen to do so.
const RekeyTempPrefix = ".kmsfs-rekey-"

// rekeyTempSuffix ends a re-key temporary's name.
const rekeyTempSuffix = ".tmp"

// configTemp is the temporary name of an atomic config write
// (volume.Config.Save), stray if it survives.
const configTemp = volume.ConfigName + ".tmp"

// Entry is one non-directory entry of a CIPHERDIR.
type Entry struct {
	// Rel is the slash-separated path relative to the CIPHERDIR, as stored:
	// an opaque cipher path, shown to people only through a [Namer].
	Rel  string
	Kind Kind
	// Err is set when the walk could not read this entry (or, for a
	// directory, its listing); Kind is then meaningless.
	Err error
}

// Classify returns the kind of the entry at rel (slash-separated, relative
// to the CIPHERDIR) whose type bits are mode.
func Classify(rel string, mode fs.FileMode) Kind {
	base := path.Base(rel)
	atRoot := !strings.Contains(rel, "/")
	switch {
	case atRoot && base == volume.ConfigName:
		return KindOwn
	case names.IsReserved(base):
		return KindOwn
	case atRoot && base == configTemp, IsRekeyTemp(base):
		return KindStray
	case !mode.IsRegular():
		return KindSpecial
	}
	return KindFile
}

// IsRekeyTemp reports whether name is a re-key temporary file's name.
func IsRekeyTemp(name string) bool {
	return strings.HasPrefix(name, RekeyTempPrefix) && strings.HasSuffix(name, rekeyTempSuffix)
}

// Walk calls fn for every entry below root that is not a directory, in
// lexical order, until fn returns an error or ctx ends. Unreadable entries
// and directories are passed to fn with Err set, and the walk goes on: one
// bad directory must not hide the rest of the tree.
func Walk(ctx context.Context, root string, fn func(Entry) error) error {
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		rel, rerr := filepath.Rel(root, p)
		if rerr != nil {
			return rerr
		}
		rel = filepath.ToSlash(rel)
		if err != nil {
			if p == root {
				return err
			}
			return fn(Entry{Rel: rel, Err: err})
		}
		if d.IsDir() {
			return nil
		}
		return fn(Entry{Rel: rel, Kind: Classify(rel, d.Type())})
	})
}
