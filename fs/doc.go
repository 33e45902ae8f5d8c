// Package fs is the FUSE mount: it presents CIPHERDIR, a directory of
// envelope-encrypted files, decrypted at a mount point.
//
// # What it owns
//
// fs is the only package that imports go-fuse and the only one that returns
// syscall.Errno. It translates every filesystem operation a program expects
// from a local disk into operations on the backing directory: names pass
// through a name codec (identity for now), contents and sizes through
// package envelope, and everything else (modes, owners, times, links,
// xattrs, directories) straight to the backing file.
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
