package fs_test

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/kmsfs/kmsfs/fs"
	"github.com/kmsfs/kmsfs/internal/testkms"
)

// mountinfo returns the /proc/self/mountinfo line of mountpoint.
func mountinfo(t *testing.T, mountpoint string) string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 4 && f[4] == mountpoint {
			return l
		}
	}
	return ""
}

func TestMount(t *testing.T) {
	fs.RequireFUSE(t)
	dir := t.TempDir()
	mnt, cipher := filepath.Join(dir, "mnt"), filepath.Join(dir, "cipher")
	for _, d := range []string{mnt, cipher} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	srv, _, err := fs.Mount(mnt, fs.Options{CipherDir: cipher, Keys: testkms.NewFixed()})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Unmount()
	info := mountinfo(t, mnt)
	if !strings.Contains(info, " - fuse.kmsfs kmsfs ") {
		t.Errorf("mountinfo %q: want type fuse.kmsfs, source kmsfs", info)
	}
	if !strings.Contains(info, "max_read=1048576") {
		t.Errorf("mountinfo %q: want max_read=1048576 (MaxWrite 1 MiB)", info)
	}
	checkFuseCloseOnExec(t)
	if err := os.WriteFile(filepath.Join(mnt, "f"), []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(mnt, "f")); err != nil || string(b) != "hello" {
		t.Errorf("read back %q, %v", b, err)
	}
	if err := srv.Unmount(); err != nil {
		t.Fatal(err)
	}
	if info := mountinfo(t, mnt); info != "" {
		t.Errorf("still mounted after Unmount: %s", info)
	}
}

func TestMountReadOnly(t *testing.T) {
	fs.RequireFUSE(t)
	dir := t.TempDir()
	mnt, cipher := filepath.Join(dir, "mnt"), filepath.Join(dir, "cipher")
	for _, d := range []string{mnt, cipher} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	keys := testkms.NewFixed()
	srv, _, err := fs.Mount(mnt, fs.Options{CipherDir: cipher, Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(mnt, "f"), []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := srv.Unmount(); err != nil {
		t.Fatal(err)
	}
	srv, _, err = fs.Mount(mnt, fs.Options{CipherDir: cipher, Keys: keys, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Unmount()
	if b, err := os.ReadFile(filepath.Join(mnt, "f")); err != nil || string(b) != "hello" {
		t.Errorf("read %q, %v", b, err)
	}
	for name, op := range map[string]func() error{
		"write":  func() error { return os.WriteFile(filepath.Join(mnt, "f"), []byte("x"), 0o644) },
		"create": func() error { return os.WriteFile(filepath.Join(mnt, "g"), []byte("x"), 0o644) },
		"mkdir":  func() error { return os.Mkdir(filepath.Join(mnt, "d"), 0o755) },
		"remove": func() error { return os.Remove(filepath.Join(mnt, "f")) },
		"chmod":  func() error { return os.Chmod(filepath.Join(mnt, "f"), 0o600) },
	} {
		if err := op(); !errors.Is(err, syscall.EROFS) {
			t.Errorf("%s on a read-only mount: %v, want EROFS", name, err)
		}
	}
}

func TestNewRootErrors(t *testing.T) {
	keys := testkms.NewFixed()
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		opts fs.Options
		want error
	}{
		{"no keys", fs.Options{CipherDir: t.TempDir()}, fs.ErrNoKeys},
		{"no dir", fs.Options{Keys: keys}, fs.ErrNoCipherDir},
		{"missing dir", fs.Options{Keys: keys, CipherDir: filepath.Join(t.TempDir(), "nope")}, fs.ErrNoCipherDir},
		{"file as dir", fs.Options{Keys: keys, CipherDir: file}, fs.ErrNoCipherDir},
		{"negative chunk", fs.Options{Keys: keys, CipherDir: t.TempDir(), ChunkSize: -1}, fs.ErrChunkSize},
		{"odd chunk", fs.Options{Keys: keys, CipherDir: t.TempDir(), ChunkSize: 5000}, fs.ErrChunkSize},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := fs.NewRoot(tc.opts); !errors.Is(err, tc.want) {
				t.Errorf("NewRoot: %v, want %v", err, tc.want)
			}
		})
	}
}

// checkFuseCloseOnExec fails t if a /dev/fuse descriptor would leak into
// child processes.
func checkFuseCloseOnExec(t *testing.T) {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range ents {
		dst, err := os.Readlink("/proc/self/fd/" + e.Name())
		if err != nil || dst != "/dev/fuse" {
			continue
		}
		found = true
		fd, _ := strconv.Atoi(e.Name())
		flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		if err == nil && flags&unix.FD_CLOEXEC == 0 {
			t.Errorf("/dev/fuse descriptor %d is not close-on-exec", fd)
		}
	}
	if !found {
		t.Errorf("no /dev/fuse descriptor found")
	}
}
