package fs

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestOwnership has an unprivileged user (uid/gid 4321, umask 002) create
// entries through an allow_other mount: the backing files must belong to
// that user, with exactly the modes the user asked for (our own umask 022
// must not apply on top), and a setgid directory's group must be kept.
func TestOwnership(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run a child as another user")
	}
	tm := newTestMount(t, func(o *Options) { o.AllowOther = true })
	// Let the other user reach the mount point.
	for d := tm.mnt; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(tm.mnt, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(tm.path("sgid"), 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(tm.path("sgid"), 0, 77); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(tm.path("sgid"), 0o777|os.ModeSetgid); err != nil {
		t.Fatal(err)
	}
	tm.runAsUser(t, "TestOwnershipHelperProcess", "KMSFS_OWNER_HELPER")
	for _, tc := range []struct {
		name string
		mode uint32
		gid  uint32
	}{
		{"file", syscall.S_IFREG | 0o664, 4321},
		{"dir", syscall.S_IFDIR | 0o775, 4321},
		{"fifo", syscall.S_IFIFO | 0o664, 4321},
		{"sgid/file", syscall.S_IFREG | 0o664, 77},
		{"sgid/dir", syscall.S_IFDIR | 0o775 | syscall.S_ISGID, 77},
	} {
		var st syscall.Stat_t
		if err := syscall.Lstat(tm.cpath(t, tc.name), &st); err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if st.Uid != 4321 || st.Gid != tc.gid || st.Mode != tc.mode {
			t.Errorf("%s: uid %d gid %d mode %o, want 4321 %d %o", tc.name, st.Uid, st.Gid, st.Mode, tc.gid, tc.mode)
		}
	}
	var st syscall.Stat_t
	if err := syscall.Lstat(tm.cpath(t, "link"), &st); err != nil || st.Uid != 4321 {
		t.Errorf("symlink: uid %d, %v", st.Uid, err)
	}
	if err := syscall.Lstat(tm.cpath(t, "hard"), &st); err != nil || st.Uid != 4321 {
		t.Errorf("hard link: uid %d, %v", st.Uid, err)
	}
	tm.noWarnings(t)
}

// runAsUser runs the test named test of this binary as uid and gid 4321,
// with env set to tm's mount point (the child skips itself without it),
// and fails t if the child fails. The test binary's own directory is
// private to root, so the child runs a copy beside the mount point.
func (tm *testMount) runAsUser(t *testing.T, test, env string) {
	t.Helper()
	bin := filepath.Join(filepath.Dir(tm.mnt), "helper.test")
	exe, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, exe, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^"+test+"$")
	cmd.Dir = "/"
	cmd.Env = append(os.Environ(), env+"="+tm.mnt)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 4321, Gid: 4321}}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s as uid 4321: %v\n%s", test, err, out)
	}
}

// TestOwnershipHelperProcess is TestOwnership's child, running as the
// unprivileged user.
func TestOwnershipHelperProcess(t *testing.T) {
	mnt := os.Getenv("KMSFS_OWNER_HELPER")
	if mnt == "" {
		t.Skip("only run as TestOwnership's child process")
	}
	syscall.Umask(0o002)
	steps := []func() error{
		func() error { return os.WriteFile(filepath.Join(mnt, "file"), []byte("x"), 0o666) },
		func() error { return os.Mkdir(filepath.Join(mnt, "dir"), 0o777) },
		func() error { return unix.Mkfifo(filepath.Join(mnt, "fifo"), 0o666) },
		func() error { return os.Symlink("file", filepath.Join(mnt, "link")) },
		func() error { return os.Link(filepath.Join(mnt, "file"), filepath.Join(mnt, "hard")) },
		func() error { return os.WriteFile(filepath.Join(mnt, "sgid/file"), []byte("x"), 0o666) },
		func() error { return os.Mkdir(filepath.Join(mnt, "sgid/dir"), 0o777) },
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
}
