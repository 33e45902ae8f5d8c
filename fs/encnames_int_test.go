package fs

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/kmsfs/kmsfs/internal/names"
)

// secret is a marker that must never appear in CipherDir: in a name, a
// symlink target, an xattr name or value, or any file's bytes.
func secret(what string) string { return "SECRET-" + what + "-7f3a" }

// cipherLeaks walks CipherDir and returns every place one of markers
// shows up: entry names, file contents, symlink targets, xattr names and
// values of every entry (directories included).
func cipherLeaks(t *testing.T, dir string, markers []string) []string {
	t.Helper()
	var leaks []string
	check := func(where string, b []byte) {
		for _, m := range markers {
			if bytes.Contains(b, []byte(m)) {
				leaks = append(leaks, fmt.Sprintf("%s holds %q", where, m))
			}
		}
	}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		check("name "+p, []byte(d.Name()))
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			check("symlink "+p, []byte(target))
			return nil
		case d.Type().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			check("file "+p, b)
		}
		list, err := listXattr(p)
		if err != nil {
			return err
		}
		check("xattr names of "+p, list)
		for _, name := range strings.Split(string(list), "\x00") {
			if name == "" {
				continue
			}
			v, err := lgetxattrAll(p, name)
			if err != nil {
				return err
			}
			check("xattr "+name+" of "+p, v)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return leaks
}

// TestNoPlaintextInCipherDir writes a tree of known names, symlink targets
// and xattrs through the mount and greps the raw bytes of CipherDir.
func TestNoPlaintextInCipherDir(t *testing.T) {
	tm := newTestMount(t)
	var markers []string
	mark := func(what string) string {
		s := secret(what)
		markers = append(markers, s)
		return s
	}
	dir, sub := mark("dir"), mark("subdir")
	long := mark("long") + strings.Repeat("L", 200)
	file, moved := mark("file"), mark("renamed")
	steps := []func() error{
		func() error { return os.MkdirAll(tm.path(dir+"/"+sub), 0o755) },
		func() error { return os.WriteFile(tm.path(dir+"/"+file), []byte("contents"), 0o644) },
		func() error { return os.WriteFile(tm.path(dir+"/"+sub+"/"+long), nil, 0o644) },
		func() error { return os.Mkdir(tm.path(dir+"/"+long+"d"), 0o755) },
		func() error { return os.Symlink(mark("target")+"/../x", tm.path(dir+"/"+mark("link"))) },
		func() error { return os.Link(tm.path(dir+"/"+file), tm.path(dir+"/"+sub+"/"+mark("hard"))) },
		func() error { return unix.Mkfifo(tm.path(dir+"/"+mark("fifo")), 0o600) },
		func() error { return os.Rename(tm.path(dir+"/"+file), tm.path(dir+"/"+moved)) },
		func() error {
			return unix.Setxattr(tm.path(dir+"/"+moved), "user."+mark("xname"), []byte(mark("xvalue")), 0)
		},
		func() error {
			return unix.Setxattr(tm.path(dir), "user."+mark("dirxname"), []byte(mark("dirxvalue")), 0)
		},
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	tm.waitReleased(t)
	for _, leak := range cipherLeaks(t, tm.cipher, markers) {
		t.Error(leak)
	}
	// The markers are all there through the mount, so the grep can fail.
	var seen bytes.Buffer
	_ = filepath.WalkDir(tm.mnt, func(p string, d fs.DirEntry, err error) error {
		seen.WriteString(p + "\n")
		if d != nil && d.Type()&fs.ModeSymlink != 0 {
			target, _ := os.Readlink(p)
			seen.WriteString(target + "\n")
		}
		if list, err := listXattrFollow(p); err == nil {
			for _, n := range strings.Split(string(list), "\x00") {
				if n != "" {
					v, _ := getXattr(p, n)
					seen.WriteString(n + "=" + string(v) + "\n")
				}
			}
		}
		return nil
	})
	for _, m := range markers {
		if m != secret("file") && !strings.Contains(seen.String(), m) {
			t.Errorf("%q not visible through the mount", m)
		}
	}
	tm.noWarnings(t)
}

func listXattrFollow(p string) ([]byte, error) {
	buf := make([]byte, 64<<10)
	n, err := unix.Llistxattr(p, buf)
	return buf[:max(n, 0)], err
}

func getXattr(p, name string) ([]byte, error) {
	buf := make([]byte, 64<<10)
	n, err := unix.Lgetxattr(p, name, buf)
	return buf[:max(n, 0)], err
}

// legalNames returns names that exercise the codec: every length class,
// Unicode, and every byte a name may hold.
func legalNames() map[string]string {
	every := make([]byte, 0, 254)
	for b := 1; b < 256; b++ {
		if b != '/' {
			every = append(every, byte(b))
		}
	}
	return map[string]string{
		"len=1":       "a",
		"len=15":      strings.Repeat("b", 15),
		"len=16":      strings.Repeat("c", 16),
		"len=100":     strings.Repeat("d", 100),
		"len=175":     strings.Repeat("e", 175),
		"len=176":     strings.Repeat("f", 176),
		"len=200":     strings.Repeat("g", 200),
		"len=255":     strings.Repeat("h", 255),
		"unicode":     "ünïcødé ✓ 日本語 🙂",
		"every-byte":  string(every),
		"dots":        "...",
		"leading-dot": ".hidden",
		"newline":     "a\nb",
		"high-bytes":  "\xff\xfe\x80 invalid utf-8",
		"marker-like": "kmsfs-undecryptable",
	}
}

// TestNameRoundTrip creates, lists, stats, reads, renames and unlinks
// files of every kind of legal name, within a directory and across two.
func TestNameRoundTrip(t *testing.T) {
	for _, mode := range nameModes {
		t.Run(mode.name, func(t *testing.T) {
			tm := newTestMount(t, mode.opt)
			if err := os.Mkdir(tm.path("other"), 0o755); err != nil {
				t.Fatal(err)
			}
			for label, name := range legalNames() {
				t.Run(label, func(t *testing.T) { nameRoundTrip(t, tm, name) })
			}
			// Nothing is left but "other" (and the IV files).
			want := 1
			if tm.codec != nil {
				want = 3
			}
			if got := backingTree(t, tm.cipher); len(got) != want {
				t.Errorf("CipherDir holds leftovers: %q", got)
			}
			tm.noWarnings(t)
		})
	}
}

func nameRoundTrip(t *testing.T, tm *testMount, name string) {
	data := []byte("contents of " + name)
	p := tm.path(name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatalf("create: %v", err)
	}
	if !contains(listNames(t, tm.mnt), name) {
		t.Fatalf("not listed: %q", listNames(t, tm.mnt))
	}
	if fi, err := os.Stat(p); err != nil || fi.Size() != int64(len(data)) {
		t.Fatalf("stat: %v", err)
	}
	if got, err := os.ReadFile(p); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read: %q, %v", got, err)
	}
	// Within the directory, to a name of another length class.
	renamed := name[:len(name)/2] + "~r"
	if err := os.Rename(p, tm.path(renamed)); err != nil {
		t.Fatalf("rename: %v", err)
	}
	// Across directories, back to the original name.
	if err := os.Rename(tm.path(renamed), tm.path("other/"+name)); err != nil {
		t.Fatalf("rename across: %v", err)
	}
	if got, err := os.ReadFile(tm.path("other/" + name)); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read after renames: %q, %v", got, err)
	}
	if contains(listNames(t, tm.mnt), name) || contains(listNames(t, tm.mnt), renamed) {
		t.Errorf("old names still listed")
	}
	if !contains(listNames(t, tm.path("other")), name) {
		t.Errorf("not listed in other")
	}
	if err := os.Remove(tm.path("other/" + name)); err != nil {
		t.Fatalf("unlink: %v", err)
	}
	if _, err := os.Lstat(tm.path("other/" + name)); !os.IsNotExist(err) {
		t.Errorf("after unlink: %v", err)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestLongNameSideFiles checks the side file's life: written with the
// entry, removed with the last name, kept while the name exists.
func TestLongNameSideFiles(t *testing.T) {
	tm := newTestMount(t)
	long, long2 := strings.Repeat("x", 200), strings.Repeat("y", 240)
	sides := func() []string {
		var out []string
		for _, n := range listNames(t, tm.cipher) {
			if strings.HasSuffix(n, names.LongSuffix) {
				out = append(out, n)
			}
		}
		return out
	}
	if err := os.WriteFile(tm.path(long), []byte("1"), 0o644); err != nil {
		t.Fatal(err)
	}
	if n := len(sides()); n != 1 {
		t.Fatalf("%d side files after create, want 1", n)
	}
	// O_CREAT of the existing name keeps the one side file.
	if f, err := os.OpenFile(tm.path(long), os.O_RDWR|os.O_CREATE, 0o644); err != nil {
		t.Fatal(err)
	} else {
		f.Close()
	}
	if _, err := os.OpenFile(tm.path(long), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("O_EXCL on an existing long name: %v", err)
	}
	if n := len(sides()); n != 1 {
		t.Fatalf("%d side files after re-create, want 1", n)
	}
	if err := os.Link(tm.path(long), tm.path(long2)); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(tm.path(long)); err != nil {
		t.Fatal(err)
	}
	if n := len(sides()); n != 1 {
		t.Fatalf("%d side files after unlinking one of two names, want 1", n)
	}
	if err := os.Mkdir(tm.path(long), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Renameat2(unix.AT_FDCWD, tm.path(long), unix.AT_FDCWD, tm.path(long2), unix.RENAME_EXCHANGE); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(tm.path(long)); err != nil || fi.IsDir() {
		t.Fatalf("after exchange: %v, dir %v", err, fi != nil && fi.IsDir())
	}
	if n := len(sides()); n != 2 {
		t.Fatalf("%d side files after exchange, want 2", n)
	}
	if err := os.Rename(tm.path(long), tm.path("short")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(tm.path(long2)); err != nil {
		t.Fatal(err)
	}
	if got := sides(); len(got) != 0 {
		t.Fatalf("side files left: %q", got)
	}
	if b, err := os.ReadFile(tm.path("short")); err != nil || string(b) != "1" {
		t.Errorf("short: %q, %v", b, err)
	}
	tm.noWarnings(t)
}

// TestRenameLinksSymlinks moves files, directories, hard links and
// symlinks within and across directories, then checks everything through
// a fresh mount.
func TestRenameLinksSymlinks(t *testing.T) {
	for _, mode := range nameModes {
		t.Run(mode.name, func(t *testing.T) {
			tm := newTestMount(t, mode.opt)
			long := strings.Repeat("n", 190)
			sh := []func() error{
				func() error { return os.MkdirAll(tm.path("a/deep/er"), 0o755) },
				func() error { return os.WriteFile(tm.path("a/deep/er/f"), []byte("f"), 0o644) },
				func() error { return os.Symlink("deep/er/f", tm.path("a/rel")) },
				func() error { return os.Symlink(tm.path("a/deep/er/f"), tm.path("a/abs")) },
				func() error { return os.Link(tm.path("a/deep/er/f"), tm.path("a/hard")) },
				func() error { return os.Rename(tm.path("a/deep"), tm.path("a/"+long)) },
				func() error { return os.Symlink(long+"/er/f", tm.path("a/rel2")) },
				func() error { return os.Mkdir(tm.path("b"), 0o755) },
				func() error { return os.Rename(tm.path("a/"+long), tm.path("b/moved")) },
				func() error { return os.Rename(tm.path("a/rel"), tm.path("b/rel")) },
				func() error { return os.Symlink("moved/er/f", tm.path("b/rel3")) },
				func() error { return os.Rename(tm.path("a/hard"), tm.path("b/"+long)) },
				func() error { return os.Rename(tm.path("a"), tm.path("b/a")) },
			}
			for i, step := range sh {
				if err := step(); err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
			}
			for _, m := range []*testMount{tm, tm.remount(t)} {
				checks := map[string]string{"b/moved/er/f": "f", "b/" + long: "f", "b/rel3": "f"}
				for p, want := range checks {
					if b, err := os.ReadFile(m.path(p)); err != nil || string(b) != want {
						t.Errorf("%s: %q, %v", p, b, err)
					}
				}
				for p, want := range map[string]string{"b/rel": "deep/er/f", "b/a/rel2": long + "/er/f", "b/rel3": "moved/er/f"} {
					got, err := os.Readlink(m.path(p))
					if err != nil || got != want {
						t.Errorf("readlink %s = %q, %v; want %q", p, got, err, want)
					}
					if fi, err := os.Lstat(m.path(p)); err != nil || fi.Size() != int64(len(want)) {
						t.Errorf("lstat %s: size %v, %v; want %d", p, fi.Size(), err, len(want))
					}
				}
				var st syscall.Stat_t
				if err := syscall.Stat(m.path("b/"+long), &st); err != nil || st.Nlink != 2 {
					t.Errorf("hard link: nlink %d, %v", st.Nlink, err)
				}
				if got := listNames(t, m.path("b")); strings.Join(got, ",") != strings.Join(sortedCopy([]string{"a", "moved", "rel", "rel3", long}), ",") {
					t.Errorf("listing of b: %q", got)
				}
				m.noWarnings(t)
			}
		})
	}
}

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}

// cipherDir returns the backing directory of the mount directory plain.
func (tm *testMount) cipherDir(t *testing.T, plain string) string {
	t.Helper()
	return tm.cpath(t, plain)
}

// TestMovedEntries moves encrypted entries to another directory in
// CipherDir while unmounted: none shows up there under its old name (EME
// under the wrong IV), each is listed (marked, or rarely as garbage) and
// each can be deleted.
func TestMovedEntries(t *testing.T) {
	tm := newTestMount(t)
	const n = 50
	for _, d := range []string{"from", "to"} {
		if err := os.Mkdir(tm.path(d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	old := map[string]bool{}
	for i := range n {
		name := fmt.Sprintf("entry-%02d", i)
		if i%10 == 0 {
			name += strings.Repeat("-long", 40) // a long name and its side file
		}
		old[name] = true
		if err := os.WriteFile(tm.path("from/"+name), []byte(name), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	from, to := tm.cipherDir(t, "from"), tm.cipherDir(t, "to")
	tm.waitReleased(t)
	for _, e := range listNames(t, from) {
		if e != names.DirIVFile {
			if err := os.Rename(filepath.Join(from, e), filepath.Join(to, e)); err != nil {
				t.Fatal(err)
			}
		}
	}
	m := tm.remount(t)
	listed := listNames(t, m.path("to"))
	if len(listed) != n {
		t.Fatalf("%d entries listed, want %d: %q", len(listed), n, listed)
	}
	marked := 0
	for _, name := range listed {
		if old[name] {
			t.Errorf("moved entry shows its old name %q", name)
		}
		if names.IsMarked(name) {
			marked++
		}
		if err := os.Remove(m.path("to/" + name)); err != nil {
			t.Errorf("delete %q: %v", name, err)
		}
	}
	if marked < n-5 {
		t.Errorf("only %d of %d moved entries are marked", marked, n)
	}
	if left := listNames(t, to); len(left) != 1 || left[0] != names.DirIVFile {
		t.Errorf("left in the backing dir: %q", left)
	}
	if err := os.Remove(m.path("to")); err != nil {
		t.Errorf("rmdir: %v", err)
	}
	m.noWarnings(t)
}

// TestDamagedDirIV: without a usable IV file every entry is listed
// marked and can be read, renamed out and deleted; new entries are
// refused with EIO and a warning naming the plaintext path.
func TestDamagedDirIV(t *testing.T) {
	damage := map[string]func(p string) error{
		"deleted": os.Remove,
		"empty":   func(p string) error { return os.Truncate(p, 0) },
		"zeros":   func(p string) error { return os.WriteFile(p, make([]byte, names.DirIVSize), 0o400) },
		"symlink": func(p string) error {
			if err := os.Remove(p); err != nil {
				return err
			}
			return os.Symlink("/dev/null", p)
		},
	}
	for how, hurt := range damage {
		t.Run(how, func(t *testing.T) {
			tm := newTestMount(t)
			long := strings.Repeat("l", 200)
			for _, p := range []string{"d", "d/sub"} {
				if err := os.Mkdir(tm.path(p), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			for _, p := range []string{"d/file", "d/" + long, "d/sub/inner"} {
				if err := os.WriteFile(tm.path(p), []byte(p), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			d := tm.cipherDir(t, "d")
			subDisk := filepath.Base(tm.cpath(t, "d/sub"))
			tm.waitReleased(t)
			if err := hurt(filepath.Join(d, names.DirIVFile)); err != nil {
				t.Fatal(err)
			}
			m := tm.remount(t)
			listed := listNames(t, m.path("d"))
			if len(listed) != 3 {
				t.Fatalf("listed %q, want 3 entries", listed)
			}
			for _, name := range listed {
				if !names.IsMarked(name) {
					t.Errorf("listed %q unmarked", name)
				}
			}
			if !strings.Contains(m.logs.String(), "path=/d") {
				t.Errorf("no warning naming /d:\n%s", m.logs.String())
			}
			// New entries are refused.
			err := os.WriteFile(m.path("d/new"), nil, 0o644)
			if !errnoIs(err, syscall.EIO) {
				t.Errorf("create in a dir without IV: %v, want EIO", err)
			}
			if err := os.Mkdir(m.path("d/newdir"), 0o755); !errnoIs(err, syscall.EIO) {
				t.Errorf("mkdir in a dir without IV: %v, want EIO", err)
			}
			if _, err := os.Stat(m.path("d/file")); !os.IsNotExist(err) {
				t.Errorf("plain name in a dir without IV: %v, want ENOENT", err)
			}
			// The subdirectory keeps its own IV: its entries decrypt.
			sub := names.Mark(subDisk)
			if b, err := os.ReadFile(m.path("d/" + sub + "/inner")); err != nil || string(b) != "d/sub/inner" {
				t.Errorf("inner: %q, %v", b, err)
			}
			// Rename out to a directory with an IV: a real name again.
			rescued := 0
			for _, name := range listed {
				if name == sub {
					continue
				}
				dst := m.path(fmt.Sprintf("rescued-%d", rescued))
				if err := os.Rename(m.path("d/"+name), dst); err != nil {
					t.Fatalf("rename out %q: %v", name, err)
				}
				if b, err := os.ReadFile(dst); err != nil || !strings.HasPrefix(string(b), "d/") {
					t.Errorf("rescued file: %q, %v", b, err)
				}
				rescued++
			}
			if err := os.RemoveAll(m.path("d/" + sub)); err != nil {
				t.Errorf("remove marked subdir: %v", err)
			}
			if err := os.Remove(m.path("d")); err != nil {
				t.Errorf("rmdir of the emptied dir: %v", err)
			}
			if left := listNames(t, m.mnt); strings.Join(left, ",") != "rescued-0,rescued-1" {
				t.Errorf("root lists %q", left)
			}
		})
	}
}

// TestConflictCopies: a sync tool's copies of an entry are listed marked
// beside it and can be read, rescued and deleted; copies of the IV file
// are hidden and do not keep a directory from being removed.
func TestConflictCopies(t *testing.T) {
	tm := newTestMount(t)
	if err := os.Mkdir(tm.path("d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tm.path("d/report.txt"), []byte("v1"), 0o644); err != nil {
		t.Fatal(err)
	}
	tm.waitReleased(t)
	d := tm.cipherDir(t, "d")
	disk := filepath.Base(tm.cpath(t, "d/report.txt"))
	copies := []string{
		disk + " (conflicted copy 2024-05-01)",
		disk + ".sync-conflict-20240501-101010-ABCDEFG",
		strings.Repeat("A", 240) + " (1)", // too long to mark reversibly
	}
	for _, c := range copies {
		if err := os.Link(filepath.Join(d, disk), filepath.Join(d, c)); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []string{"kmsfs.diriv (conflicted copy 2024-05-01)", "kmsfs (1).diriv"} {
		b, _ := os.ReadFile(filepath.Join(d, names.DirIVFile))
		if err := os.WriteFile(filepath.Join(d, c), b, 0o400); err != nil {
			t.Fatal(err)
		}
	}
	m := tm.remount(t)
	want := []string{"report.txt"}
	for _, c := range copies {
		want = append(want, names.Mark(c))
	}
	if got := listNames(t, m.path("d")); strings.Join(got, "|") != strings.Join(sortedCopy(want), "|") {
		t.Fatalf("listing:\n got %q\nwant %q", got, sortedCopy(want))
	}
	for _, name := range want[1:] {
		if b, err := os.ReadFile(m.path("d/" + name)); err != nil || string(b) != "v1" {
			t.Errorf("read %q: %q, %v", name, b, err)
		}
	}
	if err := os.Rename(m.path("d/"+want[1]), m.path("d/report (rescued).txt")); err != nil {
		t.Fatal(err)
	}
	for _, name := range want[2:] {
		if err := os.Remove(m.path("d/" + name)); err != nil {
			t.Errorf("delete %q: %v", name, err)
		}
	}
	if got := listNames(t, m.path("d")); strings.Join(got, "|") != "report (rescued).txt|report.txt" {
		t.Errorf("after cleanup: %q", got)
	}
	// A marked name reaches only an undecryptable entry: report.txt has no
	// second, marked, name; and nothing new can be made under a marked name.
	if _, err := os.Stat(m.path("d/" + names.Mark(disk))); !os.IsNotExist(err) {
		t.Errorf("decryptable entry by its marked name: %v, want ENOENT", err)
	}
	if err := os.WriteFile(m.path("d/"+names.Mark("new")), nil, 0o644); !errnoIs(err, syscall.EPERM) {
		t.Errorf("create a marked name: %v, want EPERM", err)
	}
	for _, n := range []string{"report.txt", "report (rescued).txt"} {
		if err := os.Remove(m.path("d/" + n)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Remove(m.path("d")); err != nil {
		t.Errorf("rmdir with IV copies left: %v", err)
	}
	m.noWarnings(t)
}

// TestRmdirKeepsIVWhenNotEmpty: rmdir of a non-empty directory fails and
// leaves its IV file, so its names still decrypt; rename over a non-empty
// directory too.
func TestRmdirKeepsIVWhenNotEmpty(t *testing.T) {
	tm := newTestMount(t)
	for _, p := range []string{"d", "e"} {
		if err := os.Mkdir(tm.path(p), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(tm.path("d/f"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(tm.path("d")); !errnoIs(err, syscall.ENOTEMPTY) {
		t.Errorf("rmdir of a non-empty dir: %v", err)
	}
	// (os.Rename refuses any existing directory as target by itself.)
	if err := unix.Rename(tm.path("e"), tm.path("d")); !errnoIs(err, syscall.ENOTEMPTY) && !errnoIs(err, syscall.EEXIST) {
		t.Errorf("rename over a non-empty dir: %v", err)
	}
	if _, err := os.Stat(filepath.Join(tm.cipherDir(t, "d"), names.DirIVFile)); err != nil {
		t.Errorf("IV file: %v", err)
	}
	if got := listNames(t, tm.remount(t).path("d")); strings.Join(got, ",") != "f" {
		t.Errorf("d lists %q", got)
	}
	// An orphaned side file and IV copies do not make a directory busy.
	e := tm.cipherDir(t, "e")
	for _, n := range []string{names.LongPrefix + strings.Repeat("A", 43) + names.LongSuffix, "kmsfs.diriv.tmp-0011223344556677"} {
		if err := os.WriteFile(filepath.Join(e, n), nil, 0o400); err != nil {
			t.Fatal(err)
		}
	}
	if err := unix.Rename(tm.path("d"), tm.path("e")); err != nil {
		t.Errorf("rename over a dir holding only kmsfs files: %v", err)
	}
	if got := listNames(t, tm.path("e")); strings.Join(got, ",") != "f" {
		t.Errorf("e lists %q", got)
	}
	tm.noWarnings(t)
}

// TestSymlinkTargets: targets are stored encrypted, read back exactly with
// their length as st_size, limited to what a Linux symlink can hold, and
// a modified target is EIO with a warning naming the plaintext path.
func TestSymlinkTargets(t *testing.T) {
	tm := newTestMount(t)
	targets := map[string]string{
		"short":   "x",
		"rel":     "../a/b/" + secret("t"),
		"unicode": "ünï/✓",
		"max":     strings.Repeat("m", names.MaxTargetLen),
	}
	for name, target := range targets {
		if err := os.Symlink(target, tm.path(name)); err != nil {
			t.Fatalf("symlink %s: %v", name, err)
		}
		raw, err := os.Readlink(tm.cpath(t, name))
		if err != nil || raw == target || len(target) > 4 && strings.Contains(raw, target) {
			t.Errorf("%s: stored target %q, %v", name, raw, err)
		}
	}
	if err := os.Symlink(strings.Repeat("m", names.MaxTargetLen+1), tm.path("toolong")); !errnoIs(err, syscall.ENAMETOOLONG) {
		t.Errorf("symlink past MaxTargetLen: %v, want ENAMETOOLONG", err)
	}
	if _, err := os.Lstat(tm.path("toolong")); !os.IsNotExist(err) {
		t.Errorf("failed symlink left an entry: %v", err)
	}
	for _, m := range []*testMount{tm, tm.remount(t)} {
		for name, target := range targets {
			got, err := os.Readlink(m.path(name))
			if err != nil || got != target {
				t.Errorf("readlink %s: %d bytes, %v", name, len(got), err)
			}
			if fi, err := os.Lstat(m.path(name)); err != nil || fi.Size() != int64(len(target)) {
				t.Errorf("lstat %s: size %d, %v; want %d", name, fi.Size(), err, len(target))
			}
		}
	}
	tm.noWarnings(t)

	// Swap in another target's ciphertext, modified.
	p := tm.cpath(t, "short")
	raw, _ := os.Readlink(p)
	bad := []byte(raw)
	bad[len(bad)/2] ^= 'A' ^ 'B'
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(string(bad), p); err != nil {
		t.Fatal(err)
	}
	m := tm.remount(t)
	if _, err := os.Readlink(m.path("short")); !errnoIs(err, syscall.EIO) {
		t.Errorf("readlink of a modified target: %v, want EIO", err)
	}
	if !strings.Contains(m.logs.String(), "path=/short") || !strings.Contains(m.logs.String(), "authentication") {
		t.Errorf("no warning naming /short:\n%s", m.logs.String())
	}
}

// TestXattrs: user.* names and values are stored encrypted, work on
// files and directories, survive truncation and rewrite, are shared by
// hard links, and a value moved to another file or name fails to open.
func TestXattrs(t *testing.T) {
	for _, mode := range nameModes {
		t.Run(mode.name, func(t *testing.T) { testXattrs(t, mode.opt) })
	}
}

func testXattrs(t *testing.T, opt mountOpt) {
	tm := newTestMount(t, opt)
	if err := os.WriteFile(tm.path("f"), []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(tm.path("d"), 0o755); err != nil {
		t.Fatal(err)
	}
	set := map[string]map[string]string{
		"f": {"user.a": "1", "user." + secret("xn"): secret("xv"), "user.empty": "", "user." + strings.Repeat("n", 170): "long"},
		"d": {"user.dir": "on a directory"},
	}
	for p, attrs := range set {
		for n, v := range attrs {
			if err := unix.Setxattr(tm.path(p), n, []byte(v), 0); err != nil {
				t.Fatalf("setxattr %s %s: %v", p, n, err)
			}
		}
	}
	check := func(m *testMount, p string, want map[string]string) {
		t.Helper()
		list, err := listXattrFollow(m.path(p))
		if err != nil {
			t.Fatal(err)
		}
		got := strings.Split(strings.TrimSuffix(string(list), "\x00"), "\x00")
		var wantNames []string
		for n := range want {
			wantNames = append(wantNames, n)
		}
		if strings.Join(sortedCopy(got), ",") != strings.Join(sortedCopy(wantNames), ",") {
			t.Errorf("%s lists %q, want %q", p, got, wantNames)
		}
		for n, v := range want {
			if sz, err := unix.Getxattr(m.path(p), n, nil); err != nil || sz != len(v) {
				t.Errorf("%s %s: size %d, %v; want %d", p, n, sz, err, len(v))
			}
			if b, err := getXattr(m.path(p), n); err != nil || string(b) != v {
				t.Errorf("%s %s = %q, %v; want %q", p, n, b, err, v)
			}
		}
	}
	for p, want := range set {
		check(tm, p, want)
	}
	if _, err := unix.Getxattr(tm.path("f"), "user.a", make([]byte, 0, 1)[:0:0]); err != nil {
		t.Errorf("size query: %v", err)
	}
	small := make([]byte, 1)
	if _, err := unix.Getxattr(tm.path("d"), "user.dir", small); !errnoIs(err, syscall.ERANGE) {
		t.Errorf("small buffer: %v, want ERANGE", err)
	}
	if _, err := unix.Getxattr(tm.path("f"), "user.missing", nil); !errnoIs(err, syscall.ENODATA) {
		t.Errorf("missing: %v, want ENODATA", err)
	}
	if err := unix.Setxattr(tm.path("f"), "user.a", []byte("x"), unix.XATTR_CREATE); !errnoIs(err, syscall.EEXIST) {
		t.Errorf("XATTR_CREATE of an existing name: %v, want EEXIST", err)
	}
	if tm.codec != nil {
		if err := unix.Setxattr(tm.path("f"), "user."+strings.Repeat("n", 176), nil, 0); !errnoIs(err, syscall.ERANGE) {
			t.Errorf("name past MaxXattrNameLen: %v, want ERANGE", err)
		}
	}
	// Truncate to zero and rewrite (a new envelope file ID): still readable.
	if err := os.WriteFile(tm.path("f"), []byte("new data"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(tm.path("f"), tm.path("d/hard")); err != nil {
		t.Fatal(err)
	}
	if err := unix.Removexattr(tm.path("f"), "user.empty"); err != nil {
		t.Fatal(err)
	}
	delete(set["f"], "user.empty")
	tm.waitReleased(t)
	m := tm.remount(t)
	check(m, "f", set["f"])
	check(m, "d/hard", set["f"])
	check(m, "d", set["d"])
	tm.noWarnings(t)
	if tm.codec == nil {
		return
	}
	for _, leak := range cipherLeaks(t, tm.cipher, []string{secret("xn"), secret("xv"), "user.a", "on a directory"}) {
		t.Error(leak)
	}
	xattrMoves(t, tm)
}

// xattrMoves copies encrypted values in CipherDir to another file, and to
// another name of the same file: neither opens.
func xattrMoves(t *testing.T, tm *testMount) {
	if err := os.WriteFile(tm.path("g"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := unix.Setxattr(tm.path("g"), "user.b", []byte("g's own"), 0); err != nil {
		t.Fatal(err)
	}
	f, g := tm.cpath(t, "f"), tm.cpath(t, "g")
	diskA, _ := tm.codec.EncryptXattrName("a")
	diskB, _ := tm.codec.EncryptXattrName("b")
	val, err := lgetxattrAll(f, diskA)
	if err != nil {
		t.Fatal(err)
	}
	for _, dst := range []struct{ path, name string }{{g, diskA}, {f, diskB}} {
		if err := unix.Lsetxattr(dst.path, dst.name, val, 0); err != nil {
			t.Fatal(err)
		}
	}
	m := tm.remount(t)
	for _, c := range []struct{ path, name string }{{"g", "user.a"}, {"f", "user.b"}} {
		if _, err := getXattr(m.path(c.path), c.name); !errnoIs(err, syscall.EIO) {
			t.Errorf("value moved to %s %s: %v, want EIO", c.path, c.name, err)
		}
	}
	if !strings.Contains(m.logs.String(), "path=/g") {
		t.Errorf("no warning naming /g:\n%s", m.logs.String())
	}
	// The binding ID itself is neither listed nor reachable.
	if list, _ := listXattrFollow(m.path("g")); strings.Contains(string(list), "kmsfs") {
		t.Errorf("listing shows kmsfs's own attribute: %q", list)
	}
}
