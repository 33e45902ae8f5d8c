// Package maintain runs whole-tree maintenance over a CIPHERDIR: header
// rewrap after a master key rotation, fsck, re-keying, and the scans that
// guard retiring old key versions.
//
// # What it owns
//
//   - The tree walk ([Walk]): every entry of a CIPHERDIR, classified
//     ([Kind]) so that kmsfs's own files (kmsfs.conf, dir IV and long-name
//     side files) are never touched and leftovers of interrupted writes
//     are recognised as strays. Names are opaque cipher paths; showing them
//     to people goes through one function ([Namer]).
//   - The parallel runner ([Run]): per-file jobs on N goroutines, a summary
//     ([Summary]: scanned, changed, current, failed with paths), retries of
//     files that are busy in a mount, and progress ([Progress]: a bar with
//     files/s and ETA on a terminal, plain periodic lines otherwise).
//   - Per-file operations: rewrap ([Rewrapper], [Local]), fsck ([Checker],
//     which also authenticates each header slot alone and, with repair
//     enabled, rewrites a damaged slot from the good one), re-key
//     ([RekeyCipherFile], [RekeyPlainFile]) and the header scan of key
//     versions (over envelope.ReadSlotRefs).
//   - The check of encrypted names ([CheckNames]: IV files, names, side
//     files, symlink targets, xattrs) and the repair of a directory that
//     lost its IV file ([RepairDirIV], into lost+found). Repairs move and
//     rewrite; nothing in this package deletes user data.
//
// # What it refuses
//
// It never defines the file format (package envelope does) and never holds
// master keys: every key operation goes through an [envelope.KeyService]
// the caller builds ([KeysFor]). It does not know FUSE or the command line; the control socket through
// which a rewrap reaches a mounted tree belongs to package session.
package maintain
