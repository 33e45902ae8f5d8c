// Package testutil holds helpers shared by kmsfs's tests.
package testutil

import (
	"os"
	"os/exec"
	"testing"
)

// EnvRequireFUSE names the variable that turns a FUSE skip into a failure.
// CI sets it, so FUSE tests can never be skipped unnoticed there.
const EnvRequireFUSE = "KMSFS_REQUIRE_FUSE"

// RequireFUSE skips t, saying why, when this machine cannot mount FUSE
// filesystems; with KMSFS_REQUIRE_FUSE=1 it fails t instead.
func RequireFUSE(t testing.TB) {
	t.Helper()
	if reason := fuseUnavailable(); reason != "" {
		if os.Getenv(EnvRequireFUSE) == "1" {
			t.Fatalf("FUSE required (%s=1) but unavailable: %s", EnvRequireFUSE, reason)
		}
		t.Skipf("FUSE unavailable: %s", reason)
	}
}

func fuseUnavailable() string {
	f, err := os.OpenFile("/dev/fuse", os.O_RDWR, 0)
	if err != nil {
		return "cannot open /dev/fuse: " + err.Error()
	}
	f.Close()
	if os.Geteuid() == 0 {
		return ""
	}
	if _, err := exec.LookPath("fusermount3"); err != nil {
		return "not root and no fusermount3 in PATH"
	}
	return ""
}
