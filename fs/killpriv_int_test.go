package fs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// killPrivOps are what an unprivileged owner does to a file that clears
// its set-user-ID bit, and its set-group-ID bit when group execute is set
// (the kernel's rule for a writer without CAP_FSETID).
var killPrivOps = []string{"write", "append", "ftruncate", "otrunc", "direct", "falloc", "fallockeep", "cfr", "mmap"}

// TestWriteClearsSetID has an unprivileged owner write to and truncate
// files with set-ID bits through the mount: the bits go as on a local
// disk, whether the kernel or the server clears them.
func TestWriteClearsSetID(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run a child as another user")
	}
	tm := newTestMount(t, func(o *Options) { o.AllowOther = true })
	for d := tm.mnt; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	modes := []struct{ mode, want uint32 }{
		{0o6755, 0o755},
		{0o4755, 0o755},
		{0o2755, 0o755},
		{0o2644, 0o2644}, // set-group-ID without group execute is a lock mark: it stays
	}
	for _, op := range killPrivOps {
		for _, m := range modes {
			p := tm.path(fmt.Sprintf("%s-%o", op, m.mode))
			if err := os.WriteFile(p, plaintext(8192), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Chown(p, 4321, 4321); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(p, os.FileMode(m.mode&0o777)|unixMode(m.mode)); err != nil {
				t.Fatal(err)
			}
		}
	}
	tm.runAsUser(t, "TestWriteClearsSetIDHelperProcess", "KMSFS_KILLPRIV_HELPER")
	for _, op := range killPrivOps {
		for _, m := range modes {
			name := fmt.Sprintf("%s-%o", op, m.mode)
			var st syscall.Stat_t
			if err := syscall.Stat(tm.path(name), &st); err != nil {
				t.Fatal(err)
			}
			if got := st.Mode & 0o7777; got != m.want {
				t.Errorf("%s: mode %o after %s by its owner, want %o", name, got, op, m.want)
			}
			if err := syscall.Stat(tm.cpath(t, name), &st); err != nil {
				t.Fatal(err)
			}
			if got := st.Mode & 0o7777; got != m.want {
				t.Errorf("%s: backing mode %o after %s by its owner, want %o", name, got, op, m.want)
			}
		}
	}
	tm.noWarnings(t)
}

// TestWriteClearsSetIDHelperProcess is TestWriteClearsSetID's child,
// running as the files' unprivileged owner.
func TestWriteClearsSetIDHelperProcess(t *testing.T) {
	mnt := os.Getenv("KMSFS_KILLPRIV_HELPER")
	if mnt == "" {
		t.Skip("only run as TestWriteClearsSetID's child process")
	}
	ents, err := os.ReadDir(mnt)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		op, _, ok := strings.Cut(e.Name(), "-")
		if !ok {
			continue
		}
		p := filepath.Join(mnt, e.Name())
		var err error
		switch op {
		case "write":
			err = writeAt(p, os.O_WRONLY, []byte("w"), 100)
		case "append":
			err = writeAt(p, os.O_WRONLY|os.O_APPEND, []byte("a"), 0)
		case "ftruncate":
			err = os.Truncate(p, 100)
		case "otrunc":
			err = writeAt(p, os.O_WRONLY|os.O_TRUNC, []byte("t"), 0)
		case "direct":
			var f *os.File
			if f, err = os.OpenFile(p, os.O_RDWR|syscall.O_DIRECT, 0); err == nil {
				_, err = f.WriteAt(directBuf(t, make([]byte, 4096)), 4096)
				f.Close()
			}
		case "falloc", "fallockeep":
			var f *os.File
			if f, err = os.OpenFile(p, os.O_RDWR, 0); err == nil {
				mode := uint32(0)
				if op == "fallockeep" {
					mode = unix.FALLOC_FL_KEEP_SIZE
				}
				err = unix.Fallocate(int(f.Fd()), mode, 0, 100000)
				f.Close()
			}
		case "cfr": // copy_file_range within the mount
			var dst, src *os.File
			if dst, err = os.OpenFile(p, os.O_RDWR, 0); err == nil {
				if src, err = os.Open(p); err == nil {
					in, out := int64(0), int64(8192)
					_, err = unix.CopyFileRange(int(src.Fd()), &in, int(dst.Fd()), &out, 100, 0)
					src.Close()
				}
				dst.Close()
			}
		case "mmap": // ext4 keeps the bits here; the mount clears them (DECISIONS)
			var f *os.File
			if f, err = os.OpenFile(p, os.O_RDWR, 0); err == nil {
				var b []byte
				if b, err = unix.Mmap(int(f.Fd()), 0, 4096, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED); err == nil {
					b[10] = 'm'
					err = unix.Msync(b, unix.MS_SYNC)
					unix.Munmap(b)
				}
				f.Close()
			}
		default:
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", e.Name(), err)
		}
	}
}

func writeAt(p string, flags int, b []byte, off int64) error {
	f, err := os.OpenFile(p, flags, 0)
	if err != nil {
		return err
	}
	if flags&os.O_APPEND != 0 {
		_, err = f.Write(b)
	} else {
		_, err = f.WriteAt(b, off)
	}
	return errors.Join(err, f.Close())
}

// TestNoGetxattrBeforeWrite: with FUSE_HANDLE_KILLPRIV_V2 the kernel asks
// for security.capability once per inode, before its first write, and then
// marks it as having none; without it, every write(2) below cost that
// extra round trip.
func TestNoGetxattrBeforeWrite(t *testing.T) {
	buf := &logBuf{}
	tm := newTestMount(t, requestLog(buf))
	f, err := os.Create(tm.path("f"))
	if err != nil {
		t.Fatal(err)
	}
	mark := len(buf.String())
	for i := range 5 {
		if _, err := f.Write(plaintext(1000 + i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if n := requests(buf, mark, "WRITE"); n < 5 {
		t.Errorf("%d WRITE requests for 5 writes, want 5 or more (is the request log working?)", n)
	}
	if n := requests(buf, mark, "GETXATTR"); n > 1 {
		t.Errorf("%d GETXATTR requests for 5 writes, want at most 1", n)
	}
}
