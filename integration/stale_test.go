package integration

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestStaleControlSocket (issue 12 item 11): after kill -9 of a mount its
// control socket is left behind; with another, unrelated kmsfs mount
// present, fsck must not call the tree mounted and an offline rewrap must
// not refuse naming that mount. The stale socket is cleaned up.
func TestStaleControlSocket(t *testing.T) {
	v := newVol(t)
	other := newVol(t)
	v.mount()
	if err := os.WriteFile(filepath.Join(v.plain, "f.txt"), []byte("before kill -9"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctlDir := v.keyring + ".mounts"
	socks, _ := filepath.Glob(filepath.Join(ctlDir, "*.sock"))
	if len(socks) != 1 {
		t.Fatalf("control sockets of the mount: %v", socks)
	}
	pid := servingPID(t, v)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if !waitExit(pid, 10*time.Second) {
		t.Fatal("mount survived SIGKILL")
	}
	lazyUnmount(v.plain)
	if _, err := os.Lstat(socks[0]); err != nil {
		t.Fatalf("kill -9 left no control socket to test with: %v", err)
	}
	other.mount() // an unrelated kmsfs mount

	out, errOut, code := v.kmsfs("fsck", v.cipher)
	if code != 0 || strings.Contains(errOut, "mounted") {
		t.Errorf("fsck after kill -9: exit %d\n%s%s", code, out, errOut)
	}
	if _, err := os.Lstat(socks[0]); err == nil {
		t.Errorf("the stale control socket %s is still there", socks[0])
	}
	v.must("key", "rotate", "alias/kmsfs")
	out, errOut, code = v.kmsfs("rewrap", v.cipher)
	if code != 0 || !strings.Contains(out, "offline") || !strings.Contains(out, "1 rewrapped") {
		t.Errorf("offline rewrap after kill -9: exit %d\n%s%s", code, out, errOut)
	}
	v.mount()
	if got, err := os.ReadFile(filepath.Join(v.plain, "f.txt")); err != nil || string(got) != "before kill -9" {
		t.Errorf("after remount: %q, %v", got, err)
	}
}
