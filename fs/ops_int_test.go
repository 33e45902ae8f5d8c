package fs

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kmsfs/kmsfs/internal/names"
)

// TestConcurrentAppend runs two O_APPEND writers on separate descriptors:
// every record must land intact.
func TestConcurrentAppend(t *testing.T) {
	tm := newTestMount(t)
	const records = 300
	var wg sync.WaitGroup
	for w := range 2 {
		f, err := os.OpenFile(tm.path("log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer f.Close()
			for i := range records {
				rec := fmt.Sprintf("writer=%d record=%04d %s\n", w, i, strings.Repeat("x", 100+i%50))
				if _, err := f.WriteString(rec); err != nil {
					t.Errorf("write: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	got, err := os.ReadFile(tm.path("log"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(got), "\n"), "\n")
	if len(lines) != 2*records {
		t.Fatalf("%d lines, want %d", len(lines), 2*records)
	}
	seen := map[string]bool{}
	for _, l := range lines {
		var w, i int
		if _, err := fmt.Sscanf(l, "writer=%d record=%04d", &w, &i); err != nil {
			t.Fatalf("garbled line %q", l)
		}
		if want := fmt.Sprintf("writer=%d record=%04d %s", w, i, strings.Repeat("x", 100+i%50)); l != want {
			t.Fatalf("garbled line %q", l)
		}
		seen[l] = true
	}
	if len(seen) != 2*records {
		t.Errorf("%d distinct records, want %d", len(seen), 2*records)
	}
}

func TestHardLinkSharesContent(t *testing.T) {
	tm := newTestMount(t)
	if err := os.WriteFile(tm.path("a"), plaintext(3*tm.chunk), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(tm.path("a"), tm.path("b")); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(tm.path("b"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt([]byte("LINKED"), int64(tm.chunk)); err != nil {
		t.Fatal(err)
	}
	want := plaintext(3 * tm.chunk)
	copy(want[tm.chunk:], "LINKED")
	checkFile(t, tm, "a", want)
	checkFile(t, tm, "b", want)
	var sa, sb syscall.Stat_t
	if err := syscall.Stat(tm.path("a"), &sa); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Stat(tm.path("b"), &sb); err != nil {
		t.Fatal(err)
	}
	if sa.Ino != sb.Ino || sa.Nlink != 2 {
		t.Errorf("ino %d/%d nlink %d, want equal inodes and nlink 2", sa.Ino, sb.Ino, sa.Nlink)
	}
	tm.noWarnings(t)
}

func TestRenameFlags(t *testing.T) {
	tm := newTestMount(t)
	write := func(name, s string) {
		t.Helper()
		if err := os.WriteFile(tm.path(name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	read := func(name string) string {
		t.Helper()
		b, err := os.ReadFile(tm.path(name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	write("a", "content a")
	write("b", "content b")
	if err := os.Rename(tm.path("a"), tm.path("b")); err != nil {
		t.Fatalf("rename over existing: %v", err)
	}
	if got := read("b"); got != "content a" {
		t.Errorf("after rename over: b = %q", got)
	}
	write("a", "new a")
	err := unix.Renameat2(unix.AT_FDCWD, tm.path("a"), unix.AT_FDCWD, tm.path("b"), unix.RENAME_NOREPLACE)
	if !errnoIs(err, syscall.EEXIST) {
		t.Errorf("RENAME_NOREPLACE over existing: %v, want EEXIST", err)
	}
	if err := unix.Renameat2(unix.AT_FDCWD, tm.path("a"), unix.AT_FDCWD, tm.path("c"), unix.RENAME_NOREPLACE); err != nil {
		t.Errorf("RENAME_NOREPLACE to new name: %v", err)
	}
	if err := unix.Renameat2(unix.AT_FDCWD, tm.path("b"), unix.AT_FDCWD, tm.path("c"), unix.RENAME_EXCHANGE); err != nil {
		t.Fatalf("RENAME_EXCHANGE: %v", err)
	}
	if b, c := read("b"), read("c"); b != "new a" || c != "content a" {
		t.Errorf("after exchange: b=%q c=%q", b, c)
	}
	tm.noWarnings(t)
}

func TestSymlinkFifoXattr(t *testing.T) {
	tm := newTestMount(t)
	if err := os.WriteFile(tm.path("target"), []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("target", tm.path("link")); err != nil {
		t.Fatal(err)
	}
	if dst, err := os.Readlink(tm.path("link")); err != nil || dst != "target" {
		t.Errorf("readlink = %q, %v", dst, err)
	}
	if b, err := os.ReadFile(tm.path("link")); err != nil || string(b) != "hello" {
		t.Errorf("read through symlink = %q, %v", b, err)
	}
	if err := unix.Mkfifo(tm.path("fifo"), 0o600); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(tm.path("fifo")); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		t.Errorf("fifo: %v, %v", fi, err)
	}
	p := tm.path("target")
	if err := unix.Setxattr(p, "user.k", []byte("v1"), 0); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	if n, err := unix.Getxattr(p, "user.k", buf); err != nil || string(buf[:n]) != "v1" {
		t.Errorf("getxattr = %q, %v", buf[:n], err)
	}
	n, err := unix.Listxattr(p, buf)
	if err != nil || !bytes.Contains(buf[:n], []byte("user.k\x00")) {
		t.Errorf("listxattr = %q, %v", buf[:n], err)
	}
	if err := unix.Setxattr(p, "trusted.k", []byte("v"), 0); err == nil {
		t.Errorf("setxattr trusted.*: want an error")
	}
	if err := unix.Removexattr(p, "user.k"); err != nil {
		t.Errorf("removexattr: %v", err)
	}
	if _, err := unix.Getxattr(p, "user.k", buf); !errnoIs(err, syscall.ENODATA) {
		t.Errorf("getxattr after remove: %v, want ENODATA", err)
	}
	tm.noWarnings(t)
}

func TestFlock(t *testing.T) {
	tm := newTestMount(t)
	f1, err := os.Create(tm.path("lock"))
	if err != nil {
		t.Fatal(err)
	}
	defer f1.Close()
	f2, err := os.Open(tm.path("lock"))
	if err != nil {
		t.Fatal(err)
	}
	defer f2.Close()
	if err := unix.Flock(int(f1.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		t.Fatalf("flock 1: %v", err)
	}
	if err := unix.Flock(int(f2.Fd()), unix.LOCK_EX|unix.LOCK_NB); !errnoIs(err, syscall.EWOULDBLOCK) {
		t.Errorf("flock 2 while 1 holds it: %v, want EWOULDBLOCK", err)
	}
	if err := unix.Flock(int(f1.Fd()), unix.LOCK_UN); err != nil {
		t.Fatal(err)
	}
	if err := unix.Flock(int(f2.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		t.Errorf("flock 2 after unlock: %v", err)
	}
}

func TestChmodUtimensStatfs(t *testing.T) {
	tm := newTestMount(t)
	p := tm.path("f")
	if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, 0o600); err != nil {
		t.Fatal(err)
	}
	mtime := time.Date(2001, 2, 3, 4, 5, 6, 7000, time.UTC)
	if err := os.Chtimes(p, mtime, mtime); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 || !fi.ModTime().Equal(mtime) {
		t.Errorf("mode %v mtime %v, want 0600 and %v", fi.Mode(), fi.ModTime(), mtime)
	}
	if err := os.Chown(p, 1234, 5678); err != nil {
		t.Fatal(err)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(p, &st); err != nil || st.Uid != 1234 || st.Gid != 5678 {
		t.Errorf("chown: uid %d gid %d, %v", st.Uid, st.Gid, err)
	}
	var sfs, back unix.Statfs_t
	if err := unix.Statfs(tm.mnt, &sfs); err != nil {
		t.Fatal(err)
	}
	if err := unix.Statfs(tm.cipher, &back); err != nil {
		t.Fatal(err)
	}
	if sfs.Blocks != back.Blocks || sfs.Bsize != back.Bsize {
		t.Errorf("statfs blocks %d bsize %d, backing %d %d", sfs.Blocks, sfs.Bsize, back.Blocks, back.Bsize)
	}
	tm.noWarnings(t)
}

// TestMmapShared writes through a shared writable mapping and reads the
// result back with a fresh read after munmap. The mapping is touched in a
// child process: a page fault on a FUSE file blocks its thread invisibly to
// the Go scheduler, which can deadlock against our own in-process server
// (go-fuse's fs package docs, "Deadlocks", 3).
func TestMmapShared(t *testing.T) {
	tm := newTestMount(t)
	size := 3*tm.chunk + 7
	if err := os.WriteFile(tm.path("m"), make([]byte, size), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestMmapHelperProcess$")
	cmd.Env = append(os.Environ(), "KMSFS_MMAP_HELPER="+tm.path("m"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("helper: %v\n%s", err, out)
	}
	checkFile(t, tm, "m", plaintext(size))
	tm.noWarnings(t)
}

// TestMmapHelperProcess is TestMmapShared's child: it maps the file named
// by KMSFS_MMAP_HELPER shared and writable, fills it with plaintext(size),
// syncs and unmaps.
func TestMmapHelperProcess(t *testing.T) {
	path := os.Getenv("KMSFS_MMAP_HELPER")
	if path == "" {
		t.Skip("only run as TestMmapShared's child process")
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	mem, err := unix.Mmap(int(f.Fd()), 0, int(fi.Size()), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	copy(mem, plaintext(len(mem)))
	if err := unix.Msync(mem, unix.MS_SYNC); err != nil {
		t.Fatal(err)
	}
	if err := unix.Munmap(mem); err != nil {
		t.Fatal(err)
	}
}

// TestReservedNames checks that kmsfs's own files in CipherDir cannot be
// seen, opened or changed through the mount. With plaintext names they
// cannot be made either; with encrypted names "kmsfs.conf" is an ordinary
// name, stored encrypted, and the config cannot be reached by its marked
// name.
func TestReservedNames(t *testing.T) {
	for _, mode := range nameModes {
		t.Run(mode.name, func(t *testing.T) {
			tm := newTestMount(t, mode.opt)
			conf := filepath.Join(tm.cipher, "kmsfs.conf")
			if err := os.WriteFile(conf, []byte("config"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(tm.path("visible"), []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
			if got := listNames(t, tm.mnt); strings.Join(got, ",") != "visible" {
				t.Errorf("listing = %v, want [visible]", got)
			}
			for _, name := range []string{"kmsfs.conf", names.Mark("kmsfs.conf")} {
				if _, err := os.Stat(tm.path(name)); !os.IsNotExist(err) {
					t.Errorf("stat %s: %v, want ENOENT", name, err)
				}
			}
			err := os.WriteFile(tm.path("kmsfs.conf"), []byte("evil"), 0o644)
			if tm.codec == nil && err == nil {
				t.Errorf("creating a reserved name succeeded")
			}
			if tm.codec != nil && err != nil {
				t.Errorf("creating kmsfs.conf with encrypted names: %v", err)
			}
			if b, _ := os.ReadFile(conf); string(b) != "config" {
				t.Errorf("reserved file changed: %q", b)
			}
			if err := os.Mkdir(tm.path("sub"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(tm.path("sub/kmsfs.conf"), []byte("ok"), 0o644); err != nil {
				t.Errorf("reserved names apply at the root only: %v", err)
			}
			tm.noWarnings(t)
		})
	}
}

// listNames returns the sorted names in dir.
func listNames(t testing.TB, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	sort.Strings(out)
	return out
}

// TestMtimeSetBeforeClose: a program (cp -p) that writes, sets the mtime
// on the descriptor and closes must see its mtime, although closing
// commits the grown size to the header.
func TestMtimeSetBeforeClose(t *testing.T) {
	tm := newTestMount(t)
	f, err := os.Create(tm.path("f"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(plaintext(3*tm.chunk + 5)); err != nil {
		t.Fatal(err)
	}
	mtime := time.Date(2010, 1, 2, 3, 4, 5, 600, time.UTC)
	ts := []unix.Timespec{unix.NsecToTimespec(mtime.UnixNano()), unix.NsecToTimespec(mtime.UnixNano())}
	if err := unix.UtimesNanoAt(int(f.Fd()), "", ts, unix.AT_EMPTY_PATH); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	tm.waitReleased(t)
	for _, p := range []string{tm.path("f"), tm.cpath(t, "f")} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if !fi.ModTime().Equal(mtime) {
			t.Errorf("%s: mtime %v, want %v", p, fi.ModTime(), mtime)
		}
	}
}
