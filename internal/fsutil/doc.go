// Package fsutil is kmsfs's one toolkit for durable and confined file
// operations: replacing a file atomically (temporary file beside it, fsync,
// rename, fsync of the directory), syncing a directory, and opening a path
// beneath a root without following any symlink.
//
// Every package that writes metadata files (the volume config, directory IV
// files, key bundles, the volume registry, rekeyed files) or opens files of
// a CIPHERDIR uses it, so that durability and confinement are decided once.
package fsutil
