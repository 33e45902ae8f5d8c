package fs

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"

	"github.com/kmsfs/kmsfs/envelope"
	"github.com/kmsfs/kmsfs/internal/testkms"
)

// slotVersions returns the key versions both header slots of the backing
// file at path name.
func slotVersions(t *testing.T, path string) [2]uint32 {
	t.Helper()
	raw := make([]byte, envelope.HeaderSize)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := io.ReadFull(f, raw); err != nil {
		t.Fatal(err)
	}
	var vs [2]uint32
	for i := range 2 {
		off := envelope.PreambleSize + i*envelope.SlotSize
		s, err := envelope.ParseSlot(raw[off : off+envelope.SlotSize])
		if err != nil {
			t.Fatalf("slot %d: %v", i, err)
		}
		vs[i] = s.KeyRef.Version
	}
	return vs
}

// TestRewrapOpenFile rewraps a file while a writer goroutine keeps writing
// through an open handle: the shared state follows the new header, so no
// data is lost, both slots name the new version, later writes through the
// same handle work, and a fresh open reads everything back.
func TestRewrapOpenFile(t *testing.T) {
	vk := testkms.NewFixed()
	tm := newTestMount(t, func(o *Options) { o.Keys = vk })
	rt := &Root{r: tm.root}
	f, err := os.OpenFile(tm.path("f"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want := plaintext(5 * tm.chunk)
	if _, err := f.WriteAt(want, 0); err != nil {
		t.Fatal(err)
	}
	rel, err := filepath.Rel(tm.cipher, tm.cpath(t, "f"))
	if err != nil {
		t.Fatal(err)
	}
	var (
		stop = make(chan struct{})
		wg   sync.WaitGroup
		werr error
	)
	wg.Add(1)
	go func() { // the writer owns want until wg.Wait
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			off := (i * 1000) % (len(want) + 3*tm.chunk) // overwrites and appends
			p := bytes.Repeat([]byte{byte('a' + i%26)}, 700)
			if _, err := f.WriteAt(p, int64(off)); err != nil {
				werr = err
				return
			}
			if end := off + len(p); end > len(want) {
				want = append(want, make([]byte, end-len(want))...)
			}
			copy(want[off:], p)
		}
	}()
	for v := uint32(2); v <= 4; v++ {
		if got := vk.Rotate(); got.Version != v {
			t.Fatalf("rotated to v%d, want v%d", got.Version, v)
		}
		changed, old, nw, err := rt.RewrapFile(context.Background(), rel, vk)
		if err != nil || !changed || old.Version != v-1 || nw.Version != v {
			t.Errorf("rewrap to v%d: changed %v, %v -> %v, %v", v, changed, old, nw, err)
		}
		if got := slotVersions(t, tm.cpath(t, "f")); got != [2]uint32{v, v} {
			t.Errorf("after rewrap to v%d: slots name versions %v", v, got)
		}
	}
	close(stop)
	wg.Wait()
	if werr != nil {
		t.Fatalf("writer: %v", werr)
	}
	tail := []byte("written after the rewrap")
	if _, err := f.WriteAt(tail, int64(len(want))); err != nil {
		t.Fatalf("write after rewrap: %v", err)
	}
	want = append(want, tail...)
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	tm.waitReleased(t)
	if got := slotVersions(t, tm.cpath(t, "f")); got != [2]uint32{4, 4} {
		t.Errorf("after close: slots name versions %v, want [4 4]", got)
	}
	got, err := os.ReadFile(tm.path("f"))
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("reopened: %d bytes (want %d), equal %v, %v", len(got), len(want), bytes.Equal(got, want), err)
	}
	tm.noWarnings(t)
}

// TestRewrapClosedFile rewraps files the mount does not have open, and
// refuses paths outside the CIPHERDIR.
func TestRewrapClosedFile(t *testing.T) {
	vk := testkms.NewFixed()
	tm := newTestMount(t, func(o *Options) { o.Keys = vk })
	rt := &Root{r: tm.root}
	want := plaintext(2*tm.chunk + 500)
	if err := os.WriteFile(tm.path("f"), want, 0o644); err != nil {
		t.Fatal(err)
	}
	// An empty backing file (FORMAT.md "Empty files": no header).
	if err := os.WriteFile(tm.cpath(t, "empty"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tm.waitReleased(t)
	cpath := tm.cpath(t, "f")
	before, err := os.Stat(cpath)
	if err != nil {
		t.Fatal(err)
	}
	vk.Rotate()
	rel, _ := filepath.Rel(tm.cipher, cpath)
	changed, old, nw, err := rt.RewrapFile(context.Background(), rel, vk)
	if err != nil || !changed || old.Version != 1 || nw.Version != 2 {
		t.Fatalf("rewrap: changed %v, %v -> %v, %v", changed, old, nw, err)
	}
	if got := slotVersions(t, cpath); got != [2]uint32{2, 2} {
		t.Errorf("slots name versions %v, want [2 2]", got)
	}
	if after, err := os.Stat(cpath); err != nil || !after.ModTime().Equal(before.ModTime()) {
		t.Errorf("mtime %v, want %v (%v)", after.ModTime(), before.ModTime(), err)
	}
	if changed, _, _, err := rt.RewrapFile(context.Background(), rel, vk); err != nil || changed {
		t.Errorf("second rewrap: changed %v, %v; want unchanged", changed, err)
	}
	erel, _ := filepath.Rel(tm.cipher, tm.cpath(t, "empty"))
	if changed, old, _, err := rt.RewrapFile(context.Background(), erel, vk); err != nil || changed || old != (envelope.KeyRef{}) {
		t.Errorf("empty file: changed %v, old %v, %v", changed, old, err)
	}
	if got, err := os.ReadFile(tm.path("f")); err != nil || !bytes.Equal(got, want) {
		t.Errorf("read after rewrap: %d bytes, %v", len(got), err)
	}
	if err := os.Symlink(cpath, filepath.Join(tm.cipher, "link")); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"", "..", "../x", "/etc/passwd", cpath, ".", "link"} {
		if _, _, _, err := rt.RewrapFile(context.Background(), bad, vk); !errors.Is(err, ErrBadPath) {
			t.Errorf("RewrapFile(%q): %v, want ErrBadPath", bad, err)
		}
	}
	if _, _, _, err := rt.RewrapFile(context.Background(), "missing", vk); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("missing file: %v, want ENOENT", err)
	}
}
