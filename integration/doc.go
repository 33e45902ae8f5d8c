// Package integration tests the built kmsfs binary against real FUSE
// mounts: real programs (cp, tar, git, rsync, sqlite3) work through the
// mount as on a plain directory, and only ciphertext reaches CIPHERDIR.
//
// The tests need /dev/fuse and root (or fusermount3); they skip otherwise,
// and fail instead when KMSFS_REQUIRE_FUSE=1, as in CI.
package integration
