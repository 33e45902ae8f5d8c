package fs

import (
	"sort"
	"testing"

	"github.com/hanwen/go-fuse/v2/posixtest"
)

// posixExcluded lists the posixtest cases not run against kmsfs, and why.
var posixExcluded = map[string]string{
	"FcntlFlockLocksFile": "expects two descriptors of one process to conflict on F_SETLK, " +
		"which holds for OFD locks (go-fuse's loopback) but not for POSIX record locks: " +
		"they belong to the process, and the kernel keeps them for kmsfs (EnableLocks unset) " +
		"exactly as for a local disk; the test fails on ext4 as well",
}

// TestPosix runs go-fuse's POSIX conformance suite against a fresh mount per
// case, with encrypted and with plaintext names.
func TestPosix(t *testing.T) {
	names := make([]string, 0, len(posixtest.All))
	for name := range posixtest.All {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, mode := range nameModes {
		for _, name := range names {
			t.Run(mode.name+"/"+name, func(t *testing.T) {
				if why, ok := posixExcluded[name]; ok {
					t.Skip(why)
				}
				tm := newTestMount(t, mode.opt)
				posixtest.All[name](t, tm.mnt)
				tm.noWarnings(t)
			})
		}
	}
}
