package fs

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestForeignXattrNamespaces: attributes outside user.* are not supported
// on the mount, and say so with EOPNOTSUPP on every call, for files and
// directories, whatever the backing file carries.
func TestForeignXattrNamespaces(t *testing.T) {
	for _, mode := range nameModes {
		t.Run(mode.name, func(t *testing.T) {
			tm := newTestMount(t, mode.opt)
			if err := os.WriteFile(tm.path("f"), []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Mkdir(tm.path("d"), 0o755); err != nil {
				t.Fatal(err)
			}
			// A trusted.* attribute on the backing files must not show
			// through as if the mount offered the namespace.
			for _, name := range []string{"f", "d"} {
				if err := unix.Lsetxattr(tm.cpath(t, name), "trusted.k", []byte("v"), 0); err != nil {
					t.Fatal(err)
				}
			}
			for _, name := range []string{"f", "d"} {
				p := tm.path(name)
				for _, attr := range foreignAttrs() {
					if name == "f" && attr == "system.posix_acl_default" {
						continue // only directories have one
					}
					if _, err := unix.Getxattr(p, attr, make([]byte, 64)); !errnoIs(err, syscall.EOPNOTSUPP) {
						t.Errorf("getxattr %s %s: %v, want EOPNOTSUPP", name, attr, err)
					}
					if _, err := unix.Getxattr(p, attr, nil); !errnoIs(err, syscall.EOPNOTSUPP) {
						t.Errorf("getxattr size %s %s: %v, want EOPNOTSUPP", name, attr, err)
					}
					if err := unix.Removexattr(p, attr); !errnoIs(err, syscall.EOPNOTSUPP) {
						t.Errorf("removexattr %s %s: %v, want EOPNOTSUPP", name, attr, err)
					}
				}
				for _, attr := range []string{"security.kmsfs-test", "trusted.k2"} {
					if err := unix.Setxattr(p, attr, []byte("v"), 0); !errnoIs(err, syscall.EOPNOTSUPP) {
						t.Errorf("setxattr %s %s: %v, want EOPNOTSUPP", name, attr, err)
					}
				}
				// user.* still works beside them.
				if err := unix.Setxattr(p, "user.k", []byte("v"), 0); err != nil {
					t.Errorf("setxattr %s user.k: %v", name, err)
				}
				if _, err := unix.Getxattr(p, "user.missing", nil); !errnoIs(err, syscall.ENODATA) {
					t.Errorf("getxattr %s user.missing: %v, want ENODATA", name, err)
				}
			}
		})
	}
}

// foreignAttrs are attribute names outside user.* that reach the server.
// With SELinux on, the kernel answers security.selinux itself.
func foreignAttrs() []string {
	attrs := []string{"security.capability", "system.posix_acl_access", "system.posix_acl_default", "trusted.k", "trusted.missing"}
	if _, err := os.Stat("/sys/fs/selinux/enforce"); err != nil {
		attrs = append(attrs, "security.selinux")
	}
	return attrs
}

// TestLsAsksXattrsOnce: `ls -l` asks for the security label and the ACL of
// every file it lists unless the filesystem says the namespace is
// unsupported; then it stops asking on the whole device. With ENODATA
// this listing cost 2 GETXATTR requests per file.
func TestLsAsksXattrsOnce(t *testing.T) {
	if _, err := exec.LookPath("ls"); err != nil {
		t.Skip("ls not installed")
	}
	const files = 20
	buf := &logBuf{}
	tm := newTestMount(t, requestLog(buf))
	if err := os.Mkdir(tm.path("d"), 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range files {
		if err := os.WriteFile(tm.path(fmt.Sprintf("d/f%02d", i)), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mark := len(buf.String())
	out, err := exec.Command("ls", "-l", tm.path("d")).CombinedOutput()
	if err != nil {
		t.Fatalf("ls -l: %v\n%s", err, out)
	}
	if n := requests(buf, mark, "READDIRPLUS") + requests(buf, mark, "READDIR"); n == 0 {
		t.Fatal("no READDIR request logged (is the request log working?)")
	}
	if n := requests(buf, mark, "GETXATTR"); n > 2 {
		t.Errorf("ls -l of %d files sent %d GETXATTR requests, want at most 2 (one per namespace)", files, n)
	}
}
