package fs

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// dirMode gives the directories of TestListingAttributes distinct modes.
func dirMode(i int) os.FileMode { return 0o700 | os.FileMode(i/10%8) }

// TestListingAttributes: the attributes a READDIRPLUS listing gives the
// kernel (dirHandle.Lookup, stat'ing each entry by the backing name just
// read) belong to the entry they are listed under, for more entries than
// one reply holds (some carried over to the next reply), for files,
// directories and symlinks, and after the directory was renamed while
// open. A later lstat is answered from those attributes (30 s cache), so
// a mix-up shows as a wrong size or type.
func TestListingAttributes(t *testing.T) {
	for _, mode := range nameModes {
		t.Run(mode.name, func(t *testing.T) {
			tm := newTestMount(t, mode.opt)
			dir := tm.path("d")
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			const n = 300
			name := func(i int) string { return fmt.Sprintf("entry-with-a-longish-name-%04d", i) }
			for i := range n {
				p := filepath.Join(dir, name(i))
				var err error
				switch i % 10 {
				case 3:
					err = os.Mkdir(p, dirMode(i))
					if err == nil {
						err = os.Chmod(p, dirMode(i)) // past the umask
					}
				case 7:
					err = os.Symlink(strings.Repeat("t", i), p)
				default:
					err = os.WriteFile(p, plaintext(i), 0o644)
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			tm.waitReleased(t)
			// Fresh mounts, so that the listing's attributes are the only
			// ones the kernel has, with the requests logged.
			remount := func() (*testMount, *logBuf) {
				buf := &logBuf{}
				o := tm.options()
				requestLog(buf)(&o)
				m := &testMount{mnt: t.TempDir(), cipher: tm.cipher, keys: tm.keys, logs: &logBuf{}, chunk: tm.chunk}
				m.mountWith(t, o)
				return m, buf
			}
			// verify lstats every entry under dir and checks that no
			// LOOKUP reached the server since mark: the attributes came
			// with the READDIRPLUS listing.
			verify := func(dir string, buf *logBuf, mark int) {
				t.Helper()
				for i := range n {
					fi, err := os.Lstat(filepath.Join(dir, name(i)))
					if err != nil {
						t.Fatal(err)
					}
					switch i % 10 {
					case 3:
						if !fi.IsDir() || fi.Mode().Perm() != dirMode(i) {
							t.Errorf("%s: mode %v, want a directory of mode %v", name(i), fi.Mode(), dirMode(i))
						}
					case 7:
						if fi.Mode()&os.ModeSymlink == 0 || fi.Size() != int64(i) {
							t.Errorf("%s: mode %v size %d, want a symlink of size %d", name(i), fi.Mode(), fi.Size(), i)
						}
					default:
						if !fi.Mode().IsRegular() || fi.Size() != int64(i) {
							t.Errorf("%s: mode %v size %d, want a regular file of %d bytes", name(i), fi.Mode(), fi.Size(), i)
						}
					}
				}
				if got := requests(buf, mark, "READDIRPLUS"); got == 0 {
					t.Error("no READDIRPLUS request: the listing did not reach the server")
				}
				if got := requests(buf, mark, "LOOKUP"); got != 0 {
					t.Errorf("%d LOOKUP requests: attributes did not all come with the listing", got)
				}
				if strings.Contains(buf.String(), "level=WARN") {
					t.Errorf("warnings logged:\n%s", buf)
				}
			}
			wantNames := make([]string, n)
			for i := range n {
				wantNames[i] = name(i)
			}
			tm2, buf2 := remount()
			if _, err := os.Stat(tm2.path("d")); err != nil {
				t.Fatal(err)
			}
			mark := len(buf2.String())
			if got := listNames(t, tm2.path("d")); !slices.Equal(got, wantNames) {
				t.Fatalf("listed %d names, want %d: %.5q...", len(got), n, got)
			}
			verify(tm2.path("d"), buf2, mark)
			// Renamed while a listing is open: entries still come from
			// the open directory, under its new name.
			tm3, buf3 := remount()
			f, err := os.Open(tm3.path("d"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if err := os.Rename(tm3.path("d"), tm3.path("e")); err != nil {
				t.Fatal(err)
			}
			mark = len(buf3.String())
			names, err := f.Readdirnames(-1)
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(names)
			if !slices.Equal(names, wantNames) {
				t.Fatalf("listing the renamed directory: %d names, want %d: %.5q...", len(names), n, names)
			}
			verify(tm3.path("e"), buf3, mark)
		})
	}
}
