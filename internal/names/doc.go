// Package names encrypts the names that a kmsfs volume stores next to file
// contents: file and directory names, symbolic-link targets, and extended
// attribute names and values. It holds the primitives only; the fs package
// decides when to call them. The byte-level format is normative in
// docs/NAMES.md (to be merged into docs/FORMAT.md, section "Names").
//
// # What it owns
//
//   - [Codec]: the name sub-keys (HKDF-SHA-256 from one 32-byte name key) and
//     the four transforms: AES-256-EME for names and xattr names, AES-256-GCM
//     for symlink targets and xattr values.
//   - The per-directory IV file [DirIVFile] ([ReadDirIV], [WriteDirIV]).
//   - Long names ("kmsfs.long.*" plus a ".name" side file) and the set of
//     reserved on-disk names that a directory listing hides ([IsReserved]).
//   - The reversible marked form ([Mark], [Unmark]) under which entries that
//     do not decrypt stay visible, so that cloud-sync conflict copies and
//     damaged names can be seen and deleted instead of silently vanishing.
//
// # What it refuses
//
// It imports no FUSE, Badger or keyring code, never reads a key from disk and
// never decides errno values: it returns the sentinels below and the fs
// package maps them ([ErrBadName] to EBADMSG, [ErrTooLong] to ENAMETOOLONG,
// [ErrUnauthenticated] to EIO).
//
// # Security
//
// EME is a tweakable wide-block cipher without authentication: names are
// confidential and deterministic per directory (equal names in one directory
// encrypt equally, in two directories differently), but a modified name
// decrypts to random bytes that are rejected only by the padding and name
// rules (about 1 in 256 survive as a garbage name, never as a chosen one).
// Symlink targets and xattr values are authenticated.
package names
