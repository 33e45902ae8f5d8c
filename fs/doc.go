// Package fs is the FUSE mount: it presents CIPHERDIR, a directory of
// envelope-encrypted files, decrypted at a mount point.
//
// # What it owns
//
// fs is the only package that imports go-fuse and the only one that returns
// syscall.Errno. It translates every filesystem operation a program expects
// from a local disk into operations on the backing directory: names pass
// through a name codec (encrypted as docs/NAMES.md specifies, or stored as
// they are on a --plaintext-names volume), symlink targets and user.*
// xattrs are encrypted with them, contents and sizes go through package
// envelope, and everything else (modes, owners, times, links, directories)
// straight to the backing file.
//
// # Names
//
// Every name crossing the mount goes through one nameCodec (names.go). The
// encrypted one (encnames.go) encrypts each name with its directory's IV,
// which the directory's node caches; keeps long names' side files beside
// their entries; gives each new directory its IV file and removes it with
// the directory; and lists every entry it cannot decrypt under a marked
// name (kmsfs-undecryptable~...), so that sync conflict copies and damaged
// names stay visible and removable. A directory without a usable IV file
// is listed marked and refuses new entries (EIO, logged): a new IV would
// orphan every existing name. Logs always name files by plaintext path.
//
// # What it refuses
//
// fs never holds master keys and never knows whether a local keyring or a
// remote KMS is behind its [envelope.KeyService]. It does not define the file
// format: a size is always computed by [envelope.PlaintextSize] from the
// backing file's size, without reading the file.
//
// # Open files
//
// All handles on one backing inode (several opens, hard links) share one
// open-file state keyed by the backing (device, inode): one
// [envelope.File], hence one data key, and one read-write backing
// descriptor. Writes to different chunks run in parallel; envelope does the
// intra-file locking. Appends and size changes take the state's lock so two
// O_APPEND writers never overwrite each other.
//
// # Errors
//
// Every error crosses into FUSE through one mapping function (errno.go), so
// that a wrapped error never reaches go-fuse's ToErrno (which would turn it
// into ENOSYS).
package fs
