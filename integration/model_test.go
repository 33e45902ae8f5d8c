package integration

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// TestModel applies thousands of seeded random operations (open, write,
// read, truncate, rename, unlink) through the binary's mount and to an
// in-memory model, comparing every read, then remounts and compares again.
func TestModel(t *testing.T) {
	v := newVol(t)
	v.mount()
	ops := 4000
	if testing.Short() {
		ops = 500
	}
	m := &model{t: t, dir: v.plain, files: map[string][]byte{}, rng: rand.New(rand.NewPCG(7, 11))}
	for i := range ops {
		m.step(i)
	}
	v.umount()
	v.mount()
	m.checkAll()
}

type model struct {
	t     *testing.T
	dir   string
	files map[string][]byte
	rng   *rand.Rand
}

var modelNames = []string{"a", "b", "c", "d", "e"}

func (m *model) step(i int) {
	name := modelNames[m.rng.IntN(len(modelNames))]
	path := filepath.Join(m.dir, name)
	switch op := m.rng.IntN(10); {
	case op < 4:
		m.write(name, path)
	case op < 6:
		m.read(name, path, i)
	case op < 8:
		size := m.rng.Int64N(200 << 10)
		if err := os.Truncate(path, size); m.exists(name) != (err == nil) {
			m.t.Fatalf("op %d truncate %s: %v", i, name, err)
		}
		if m.exists(name) {
			m.files[name] = resize(m.files[name], size)
		}
	case op < 9:
		to := modelNames[m.rng.IntN(len(modelNames))]
		if err := os.Rename(path, filepath.Join(m.dir, to)); m.exists(name) != (err == nil) {
			m.t.Fatalf("op %d rename %s %s: %v", i, name, to, err)
		}
		if data, ok := m.files[name]; ok {
			delete(m.files, name)
			m.files[to] = data
		}
	default:
		if err := os.Remove(path); m.exists(name) != (err == nil) {
			m.t.Fatalf("op %d unlink %s: %v", i, name, err)
		}
		delete(m.files, name)
	}
}

func (m *model) exists(name string) bool { _, ok := m.files[name]; return ok }

func (m *model) write(name, path string) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		m.t.Fatal(err)
	}
	defer f.Close()
	off := m.rng.Int64N(300 << 10)
	data := make([]byte, m.rng.IntN(150<<10)+1)
	for i := range data {
		data[i] = byte(m.rng.Uint32())
	}
	if _, err := f.WriteAt(data, off); err != nil {
		m.t.Fatal(err)
	}
	cur := m.files[name]
	if end := off + int64(len(data)); end > int64(len(cur)) {
		cur = resize(cur, end)
	}
	copy(cur[off:], data)
	m.files[name] = cur
}

func (m *model) read(name, path string, i int) {
	got, err := os.ReadFile(path)
	if !m.exists(name) {
		if !errors.Is(err, os.ErrNotExist) {
			m.t.Fatalf("op %d: read of missing %s: %v", i, name, err)
		}
		return
	}
	if err != nil {
		m.t.Fatalf("op %d: read %s: %v", i, name, err)
	}
	if !bytes.Equal(got, m.files[name]) {
		m.t.Fatalf("op %d: %s differs from the model (%d vs %d bytes) at %s", i, name, len(got), len(m.files[name]), firstDiff(got, m.files[name]))
	}
}

func (m *model) checkAll() {
	entries, err := os.ReadDir(m.dir)
	if err != nil {
		m.t.Fatal(err)
	}
	if len(entries) != len(m.files) {
		m.t.Errorf("after remount: %d entries, model has %d", len(entries), len(m.files))
	}
	for name := range m.files {
		m.read(name, filepath.Join(m.dir, name), -1)
	}
}

func resize(b []byte, n int64) []byte {
	if n <= int64(len(b)) {
		return b[:n]
	}
	return append(b, make([]byte, n-int64(len(b)))...)
}

func firstDiff(a, b []byte) string {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			return fmt.Sprintf("offset %d", i)
		}
	}
	return fmt.Sprintf("offset %d (length)", min(len(a), len(b)))
}
