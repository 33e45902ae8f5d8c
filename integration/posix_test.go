package integration

import (
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/hanwen/go-fuse/v2/posixtest"
)

// posixExcluded lists the posixtest cases not run against the binary's
// mount, and why (fs/posix_int_test.go runs the same suite in-process).
var posixExcluded = map[string]string{
	"FcntlFlockLocksFile": "expects two descriptors of one process to conflict on F_SETLK; " +
		"POSIX record locks belong to the process (the kernel keeps them, as on ext4, where this test fails too)",
}

// TestPosixSuite runs go-fuse's POSIX conformance suite against a mount made
// by the kmsfs binary, each case in its own directory.
func TestPosixSuite(t *testing.T) {
	v := newVol(t)
	v.mount()
	names := make([]string, 0, len(posixtest.All))
	for name := range posixtest.All {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			if why, ok := posixExcluded[name]; ok {
				t.Skip(why)
			}
			dir := filepath.Join(v.plain, name)
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			posixtest.All[name](t, dir)
		})
	}
}
