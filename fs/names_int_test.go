package fs

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

// prefixNames is a test codec: backing names are "x_" + plain name, and a
// side file "x_<name>.side" is kept per entry (as long names will). Every
// other backing name is the codec's own.
type prefixNames struct {
	mu    sync.Mutex
	calls []string
}

func (p *prefixNames) encode(dir, plain string) (string, error) { return "x_" + plain, nil }

func (p *prefixNames) decode(dir, backing string) (string, error) {
	if !strings.HasPrefix(backing, "x_") || strings.HasSuffix(backing, ".side") {
		return "", errSkipName
	}
	return strings.TrimPrefix(backing, "x_"), nil
}

func (p *prefixNames) made(dir, plain, backing string) error {
	p.log("made " + plain + " " + backing)
	return os.WriteFile(filepath.Join(dir, backing+".side"), []byte(plain), 0o600)
}

func (p *prefixNames) gone(dir, backing string) error {
	p.log("gone " + backing)
	return os.Remove(filepath.Join(dir, backing+".side"))
}

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
