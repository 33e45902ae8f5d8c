// Package testkeys holds what tests of several packages need to make key
// services cheaply. It is internal so that no test hook is part of a
// public package's surface.
package testkeys

import "github.com/kmsfs/kmsfs/keyring"

// KDF is a deliberately cheap Argon2id setting (64 KiB, one pass) for
// keyrings made by tests; never use it for a real keyring.
var KDF = keyring.KDFParams{Time: 1, MemoryKiB: 64, Threads: 1}
