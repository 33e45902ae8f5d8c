package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

// TestUnmountPaths: fusermount3 -u, SIGTERM and SIGINT to the serving
// process each unmount, the server releases the keyring, and what was
// written before is there on the next mount.
func TestUnmountPaths(t *testing.T) {
	needTool(t, "fusermount3")
	v := newVol(t)
	for _, tc := range []struct {
		name string
		stop func()
	}{
		{"fusermount3 -u", func() {
			if out, err := exec.Command("fusermount3", "-u", v.plain).CombinedOutput(); err != nil {
				t.Fatalf("fusermount3 -u: %v: %s", err, out)
			}
		}},
		{"SIGTERM", func() { syscall.Kill(servingPID(t, v), syscall.SIGTERM) }},
		{"SIGINT", func() { syscall.Kill(servingPID(t, v), syscall.SIGINT) }},
	} {
		v.mount()
		if err := os.WriteFile(filepath.Join(v.plain, tc.name), []byte(tc.name), 0o644); err != nil {
			t.Fatal(err)
		}
		tc.stop()
		waitGone(t, v.keyring+".sock")
		if v.mounted() {
			t.Fatalf("%s: still mounted", tc.name)
		}
	}
	v.mount()
	for _, name := range []string{"fusermount3 -u", "SIGTERM", "SIGINT"} {
		if got, err := os.ReadFile(filepath.Join(v.plain, name)); err != nil || string(got) != name {
			t.Errorf("file written before %s: %q, %v", name, got, err)
		}
	}
}
