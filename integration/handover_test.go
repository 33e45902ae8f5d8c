package integration

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// secondVol initialises another CIPHERDIR on v's keyring, with its own
// mount point and log; its kmsfs commands use the same keyring and
// passphrase.
func secondVol(t *testing.T, v *vol, name string) *vol {
	t.Helper()
	w := &vol{
		t:        t,
		base:     v.base,
		keyring:  v.keyring,
		cipher:   filepath.Join(v.base, name+"-cipher"),
		plain:    filepath.Join(v.base, name+"-plain"),
		passfile: v.passfile,
		log:      filepath.Join(v.base, name+"-mount.log"),
	}
	if err := os.Mkdir(w.plain, 0o755); err != nil {
		t.Fatal(err)
	}
	args := []string{"init"}
	if plaintextNames() {
		args = append(args, "--plaintext-names")
	}
	w.must(append(args, w.cipher)...)
	return w
}

// waitExit waits up to d for process pid to exit.
func waitExit(pid int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

// TestSecondMountHandOver (issue 12 item 4): two CIPHERDIRs on one
// keyring; B reaches the keyring through A's process. Unmounting A warns
// that B depends on it, and A's process keeps serving: B still opens,
// creates, reads and writes. Unmounting B lets A's process exit, and the
// keyring works offline after.
func TestSecondMountHandOver(t *testing.T) {
	a := newVol(t)
	b := secondVol(t, a, "b")
	a.mount()
	ownerPID := servingPID(t, a)
	old := bytes.Repeat([]byte("written before the hand-over\n"), 3000)
	b.mount()
	if err := os.WriteFile(filepath.Join(b.plain, "old.txt"), old, 0o644); err != nil {
		t.Fatal(err)
	}

	_, errOut, code := a.kmsfs("umount", a.plain)
	if code != 0 {
		t.Fatalf("umount a: exit %d: %s", code, errOut)
	}
	if !strings.Contains(errOut, "other mount(s) use keyring") {
		t.Errorf("umount a gave no warning about b; stderr: %q", errOut)
	}
	time.Sleep(300 * time.Millisecond) // let a's process reach its dependents wait
	if waitExit(ownerPID, 0) {
		t.Fatal("a's process exited although b depends on it")
	}

	// A fresh open of a file written before: its DEK is unwrapped again.
	got, err := os.ReadFile(filepath.Join(b.plain, "old.txt"))
	if err != nil || !bytes.Equal(got, old) {
		t.Fatalf("b after a's unmount: reading old.txt: %d bytes, %v", len(got), err)
	}
	newData := bytes.Repeat([]byte("created after the hand-over\n"), 3000)
	if err := os.WriteFile(filepath.Join(b.plain, "new.txt"), newData, 0o644); err != nil {
		t.Fatalf("b after a's unmount: create: %v", err)
	}
	f, err := os.OpenFile(filepath.Join(b.plain, "old.txt"), os.O_RDWR, 0)
	if err != nil {
		t.Fatalf("b after a's unmount: open for writing: %v", err)
	}
	if _, err := f.WriteAt([]byte("PATCHED"), 5000); err != nil {
		t.Fatalf("b after a's unmount: write: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	copy(old[5000:], "PATCHED")

	b.umount()
	if !waitExit(ownerPID, 15*time.Second) {
		t.Fatal("a's process still runs 15 s after its last dependent unmounted")
	}
	waitGone(t, a.keyring+".sock")
	if out := a.must("key", "list"); !strings.Contains(out, "alias/kmsfs") {
		t.Errorf("key list offline after both unmounts:\n%s", out)
	}
	b.mount()
	for name, want := range map[string][]byte{"old.txt": old, "new.txt": newData} {
		if got, err := os.ReadFile(filepath.Join(b.plain, name)); err != nil || !bytes.Equal(got, want) {
			t.Errorf("b remounted: %s: %d bytes, %v", name, len(got), err)
		}
	}
}

// TestSecondMountOwnerKilled (issue 12 item 4): when the process serving
// the keyring dies (SIGKILL), a mount that reached the keyring through it
// fails opens that need a key with EIO or EACCES and logs it, never
// ENOENT (which would say the file does not exist).
func TestSecondMountOwnerKilled(t *testing.T) {
	a := newVol(t)
	b := secondVol(t, a, "b")
	a.mount()
	ownerPID := servingPID(t, a)
	b.mount()
	if err := os.WriteFile(filepath.Join(b.plain, "f.txt"), []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(ownerPID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if !waitExit(ownerPID, 10*time.Second) {
		t.Fatal("owner survived SIGKILL")
	}

	_, err := os.ReadFile(filepath.Join(b.plain, "f.txt"))
	checkKeyErrno(t, "open of an existing file", err)
	err = os.WriteFile(filepath.Join(b.plain, "g.txt"), []byte("x"), 0o644)
	checkKeyErrno(t, "create", err)
	log, _ := os.ReadFile(b.log)
	if !bytes.Contains(log, []byte("WARN")) && !bytes.Contains(log, []byte("level=WARN")) {
		t.Errorf("b's log has no warning about the lost key service:\n%s", log)
	}
	// a's mount is dead and its keyring socket stale: detach the one and
	// remove the other, so that b's unmount can see its process let go.
	lazyUnmount(a.plain)
	os.Remove(a.keyring + ".sock")
	b.umount()
}

// checkKeyErrno fails unless err is EIO or EACCES.
func checkKeyErrno(t *testing.T, what string, err error) {
	t.Helper()
	var en syscall.Errno
	switch {
	case err == nil:
		t.Errorf("%s succeeded without the key service", what)
	case !errors.As(err, &en):
		t.Errorf("%s: %v, not an errno", what, err)
	case en != syscall.EIO && en != syscall.EACCES:
		t.Errorf("%s: errno %d (%v), want EIO or EACCES", what, int(en), err)
	}
}

// lazyUnmount detaches a mount whose serving process died.
func lazyUnmount(dir string) {
	_ = syscall.Unmount(dir, syscall.MNT_DETACH)
}
