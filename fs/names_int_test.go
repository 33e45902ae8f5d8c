package fs

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/kmsfs/kmsfs/internal/names"
)

// prefixNames is a test codec: backing names are "x_" + plain name, and a
// side file "x_<name>.side" is kept per name, written before the entry
// (as long names do). Every other backing name is the codec's own.
type prefixNames struct {
	mu    sync.Mutex
	calls []string
}

func (p *prefixNames) encode(d dirRef, plain string) (string, error) { return "x_" + plain, nil }

func (p *prefixNames) prepare(d dirRef, plain string) (string, func(), error) {
	backing := "x_" + plain
	p.log("prepare " + plain + " " + backing)
	side := filepath.Join(d.abs, backing+".side")
	if err := os.WriteFile(side, []byte(plain), 0o600); err != nil {
		return "", nil, err
	}
	return backing, func() {
		if _, err := os.Lstat(filepath.Join(d.abs, backing)); os.IsNotExist(err) {
			os.Remove(side)
		}
	}, nil
}

func (p *prefixNames) decode(d dirRef, backing string) (string, error) {
	if !strings.HasPrefix(backing, "x_") || strings.HasSuffix(backing, ".side") {
		return "", errSkipName
	}
	return strings.TrimPrefix(backing, "x_"), nil
}

func (p *prefixNames) gone(d dirRef, backing string) error {
	p.log("gone " + backing)
	return os.Remove(filepath.Join(d.abs, backing+".side"))
}

func (p *prefixNames) initDir(abs string) (*[names.DirIVSize]byte, error) { return nil, nil }
func (p *prefixNames) clearDir(abs string) (func(), error)                { return nil, unix.ENOTEMPTY }
func (p *prefixNames) check(d dirRef) error                               { return nil }

func (p *prefixNames) log(s string) {
	p.mu.Lock()
	p.calls = append(p.calls, s)
	p.mu.Unlock()
}

// backingTree lists every path under dir, relative and sorted.
func backingTree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != dir {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// TestNameCodecRouting checks that every operation that takes or returns
// a name goes through the codec: CipherDir holds only encoded names (and
// the codec's side files), the mount shows only plain ones.
func TestNameCodecRouting(t *testing.T) {
	codec := &prefixNames{}
	tm := newTestMountNames(t, codec)
	steps := []func() error{
		func() error { return os.Mkdir(tm.path("d"), 0o755) },
		func() error { return os.WriteFile(tm.path("d/f"), []byte("data"), 0o644) },
		func() error { return os.Link(tm.path("d/f"), tm.path("d/hard")) },
		func() error { return os.Symlink("f", tm.path("d/sym")) },
		func() error { return unix.Mkfifo(tm.path("d/fifo"), 0o600) },
		func() error { return os.Rename(tm.path("d/hard"), tm.path("moved")) },
		func() error { return os.WriteFile(tm.path("gone"), nil, 0o644) },
		func() error { return os.Remove(tm.path("gone")) },
		func() error { return os.Mkdir(tm.path("e"), 0o755) },
		func() error { return os.Remove(tm.path("e")) },
		func() error {
			return unix.Renameat2(unix.AT_FDCWD, tm.path("moved"), unix.AT_FDCWD, tm.path("d/sym"), unix.RENAME_EXCHANGE)
		},
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	want := []string{
		linkKeyFile, // the symlink made the link key: Options.Names is nil
		"x_d", "x_d.side",
		"x_d/x_f", "x_d/x_f.side", "x_d/x_fifo", "x_d/x_fifo.side", "x_d/x_sym", "x_d/x_sym.side",
		"x_moved", "x_moved.side",
	}
	if got := backingTree(t, tm.cipher); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("CipherDir:\n got %v\nwant %v", got, want)
	}
	ents, err := os.ReadDir(tm.path("d"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if strings.Join(names, " ") != "f fifo sym" {
		t.Errorf("listing of d: %v", names)
	}
	if b, err := os.ReadFile(tm.path("d/sym")); err != nil || string(b) != "data" {
		t.Errorf("d/sym after exchange: %q, %v", b, err)
	}
	if dst, err := os.Readlink(tm.path("moved")); err != nil || dst != "f" {
		t.Errorf("moved after exchange: %q, %v", dst, err)
	}
	tm.noWarnings(t)
}
