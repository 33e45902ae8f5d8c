package fs

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// mfile is the model of one inode's contents.
type mfile struct{ data []byte }

func (f *mfile) writeAt(p []byte, off int) {
	if end := off + len(p); end > len(f.data) {
		f.data = append(f.data, make([]byte, end-len(f.data))...)
	}
	copy(f.data[off:], p)
}

func (f *mfile) truncate(n int) {
	if n <= len(f.data) {
		f.data = f.data[:n]
		return
	}
	f.data = append(f.data, make([]byte, n-len(f.data))...)
}

// mfd is an open descriptor and the inode it refers to.
type mfd struct {
	f   *os.File
	obj *mfile
}

// modelRun drives random operations through the mount and an in-memory
// model of inodes, names and descriptors, and compares every read.
type modelRun struct {
	t     *testing.T
	tm    *testMount
	rng   *rand.Rand
	names map[string]*mfile
	fds   []mfd
	maxSz int
}

var modelNames = []string{"a", "b", "c", "d/e", "d/f"}

func TestModel(t *testing.T) {
	ops := 3000
	if testing.Short() {
		ops = 500
	}
	for _, mode := range nameModes {
		for _, seed := range []uint64{1, 2, 3} {
			t.Run(fmt.Sprintf("%s/seed=%d", mode.name, seed), func(t *testing.T) {
				testModel(t, seed, ops, mode.opt)
			})
		}
	}
}

// testModel runs ops random operations from seed on a fresh mount.
func testModel(t *testing.T, seed uint64, ops int, opt mountOpt) {
	tm := newTestMount(t, opt)
	if err := os.Mkdir(tm.path("d"), 0o755); err != nil {
		t.Fatal(err)
	}
	m := &modelRun{t: t, tm: tm, rng: rand.New(rand.NewPCG(seed, 0)), names: map[string]*mfile{}, maxSz: 5 * tm.chunk}
	for i := 0; i < ops && !t.Failed(); i++ {
		m.step(i)
	}
	m.closeAll()
	m.checkAll()
	tm.noWarnings(t)
}

func (m *modelRun) name() string { return modelNames[m.rng.IntN(len(modelNames))] }

func (m *modelRun) data() []byte {
	p := make([]byte, 1+m.rng.IntN(2*m.tm.chunk))
	for i := range p {
		p[i] = byte(m.rng.IntN(256))
	}
	return p
}

// step runs operation number i, chosen at random.
func (m *modelRun) step(i int) {
	switch op := m.rng.IntN(11); {
	case op == 0 || len(m.fds) == 0:
		m.open()
	case op == 1:
		m.closeFd()
	case op <= 3:
		m.pwrite(i)
	case op == 4:
		m.pread(i)
	case op == 5:
		m.ftruncate(i)
	case op == 6:
		m.rename(i)
	case op == 7:
		m.unlink(i)
	case op == 8:
		m.stat(i)
	case op == 9:
		m.appendWrite(i)
	default:
		m.readAll(i)
	}
}

func (m *modelRun) open() {
	if len(m.fds) >= 8 {
		m.closeFd()
	}
	name := m.name()
	f, err := os.OpenFile(m.tm.path(name), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		m.t.Fatalf("open %s: %v", name, err)
	}
	obj := m.names[name]
	if obj == nil {
		obj = &mfile{}
		m.names[name] = obj
	}
	m.fds = append(m.fds, mfd{f, obj})
}

func (m *modelRun) closeFd() {
	if len(m.fds) == 0 {
		return
	}
	i := m.rng.IntN(len(m.fds))
	if err := m.fds[i].f.Close(); err != nil {
		m.t.Fatalf("close: %v", err)
	}
	m.fds = append(m.fds[:i], m.fds[i+1:]...)
}

func (m *modelRun) closeAll() {
	for _, d := range m.fds {
		if err := d.f.Close(); err != nil {
			m.t.Errorf("close: %v", err)
		}
	}
	m.fds = nil
}

func (m *modelRun) fd() mfd { return m.fds[m.rng.IntN(len(m.fds))] }

func (m *modelRun) pwrite(i int) {
	d, p, off := m.fd(), m.data(), m.rng.IntN(m.maxSz)
	if _, err := d.f.WriteAt(p, int64(off)); err != nil {
		m.t.Fatalf("op %d: pwrite: %v", i, err)
	}
	d.obj.writeAt(p, off)
}

func (m *modelRun) pread(i int) {
	d := m.fd()
	off, n := m.rng.IntN(m.maxSz), 1+m.rng.IntN(2*m.tm.chunk)
	got := make([]byte, n)
	k, err := d.f.ReadAt(got, int64(off))
	if err != nil && err != io.EOF {
		m.t.Fatalf("op %d: pread: %v", i, err)
	}
	var want []byte
	if off < len(d.obj.data) {
		want = d.obj.data[off:min(off+n, len(d.obj.data))]
	}
	if !bytes.Equal(got[:k], want) {
		m.t.Fatalf("op %d: pread(%d, %d): got %d bytes, want %d (contents differ: %v)", i, off, n, k, len(want), k == len(want))
	}
}

func (m *modelRun) ftruncate(i int) {
	d, n := m.fd(), m.rng.IntN(m.maxSz)
	if err := d.f.Truncate(int64(n)); err != nil {
		m.t.Fatalf("op %d: ftruncate: %v", i, err)
	}
	d.obj.truncate(n)
}

func (m *modelRun) rename(i int) {
	a, b := m.name(), m.name()
	err := os.Rename(m.tm.path(a), m.tm.path(b))
	if m.names[a] == nil {
		if !os.IsNotExist(err) {
			m.t.Fatalf("op %d: rename missing %s: %v", i, a, err)
		}
		return
	}
	if err != nil {
		m.t.Fatalf("op %d: rename %s %s: %v", i, a, b, err)
	}
	if a != b {
		m.names[b] = m.names[a]
		delete(m.names, a)
	}
}

func (m *modelRun) unlink(i int) {
	name := m.name()
	err := os.Remove(m.tm.path(name))
	if m.names[name] == nil {
		if !os.IsNotExist(err) {
			m.t.Fatalf("op %d: unlink missing %s: %v", i, name, err)
		}
		return
	}
	if err != nil {
		m.t.Fatalf("op %d: unlink %s: %v", i, name, err)
	}
	delete(m.names, name)
}

func (m *modelRun) stat(i int) {
	name := m.name()
	fi, err := os.Stat(m.tm.path(name))
	obj := m.names[name]
	switch {
	case obj == nil && !os.IsNotExist(err):
		m.t.Fatalf("op %d: stat missing %s: %v", i, name, err)
	case obj != nil && err != nil:
		m.t.Fatalf("op %d: stat %s: %v", i, name, err)
	case obj != nil && fi.Size() != int64(len(obj.data)):
		m.t.Fatalf("op %d: stat %s: size %d, want %d", i, name, fi.Size(), len(obj.data))
	}
}

func (m *modelRun) appendWrite(i int) {
	name := m.name()
	obj := m.names[name]
	if obj == nil {
		return
	}
	f, err := os.OpenFile(m.tm.path(name), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		m.t.Fatalf("op %d: open append: %v", i, err)
	}
	p := m.data()
	if _, err := f.Write(p); err != nil {
		m.t.Fatalf("op %d: append: %v", i, err)
	}
	if err := f.Close(); err != nil {
		m.t.Fatalf("op %d: close: %v", i, err)
	}
	obj.writeAt(p, len(obj.data))
}

func (m *modelRun) readAll(i int) {
	name := m.name()
	got, err := os.ReadFile(m.tm.path(name))
	obj := m.names[name]
	if obj == nil {
		if !os.IsNotExist(err) && !errnoIs(err, syscall.ENOENT) {
			m.t.Fatalf("op %d: read missing %s: %v", i, name, err)
		}
		return
	}
	if err != nil || !bytes.Equal(got, obj.data) {
		m.t.Fatalf("op %d: read %s: %d bytes, err %v; want %d bytes", i, name, len(got), err, len(obj.data))
	}
}

// checkAll compares every name at the end, through the mount and through a
// second, fresh mount of the same CipherDir (no open state, cold caches).
func (m *modelRun) checkAll() {
	fresh := m.tm.remount(m.t)
	for _, tm := range []*testMount{m.tm, fresh} {
		for _, name := range modelNames {
			got, err := os.ReadFile(filepath.Join(tm.mnt, name))
			obj := m.names[name]
			if obj == nil {
				if !os.IsNotExist(err) {
					m.t.Errorf("%s: want missing, got err %v", name, err)
				}
				continue
			}
			if err != nil || !bytes.Equal(got, obj.data) {
				m.t.Errorf("%s: %d bytes, err %v; want %d bytes", name, len(got), err, len(obj.data))
			}
		}
	}
}
