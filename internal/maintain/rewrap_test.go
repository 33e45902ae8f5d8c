package maintain_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/kmsfs/kmsfs/envelope"
	"github.com/kmsfs/kmsfs/internal/maintain"
	"github.com/kmsfs/kmsfs/keyring"
)

// testTree is a CIPHERDIR with files of several sizes, kmsfs's config, a
// stray and a symlink.
type testTree struct {
	dir   string
	files map[string][]byte // rel -> plaintext
}

func newTestTree(t *testing.T, k *kms, n int) *testTree {
	t.Helper()
	tr := &testTree{dir: t.TempDir(), files: map[string][]byte{}}
	sizes := []int{0, 1, testChunk - 1, testChunk, testChunk + 1, 3*testChunk + 500}
	for i := range n {
		rel := fmt.Sprintf("d%d/f%03d", i%4, i)
		tr.files[rel] = content(i, sizes[i%len(sizes)])
		writeFile(t, k.keys(), tr.dir, rel, tr.files[rel])
	}
	for _, name := range []string{"kmsfs.conf", "kmsfs.conf.tmp"} {
		if err := os.WriteFile(filepath.Join(tr.dir, name), []byte("{}"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("d0/f000", filepath.Join(tr.dir, "link")); err != nil {
		t.Fatal(err)
	}
	// Times far in the past, to see that rewrap keeps them.
	old := time.Date(2001, 2, 3, 4, 5, 6, 7, time.UTC)
	for rel := range tr.files {
		if err := os.Chtimes(filepath.Join(tr.dir, rel), old, old); err != nil {
			t.Fatal(err)
		}
	}
	return tr
}

func (tr *testTree) nonEmpty() (n int64) {
	for _, b := range tr.files {
		if len(b) > 0 {
			n++
		}
	}
	return n
}

// snapshot returns every file's ciphertext.
func (tr *testTree) snapshot(t *testing.T) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for rel := range tr.files {
		b, err := os.ReadFile(filepath.Join(tr.dir, rel))
		if err != nil {
			t.Fatal(err)
		}
		out[rel] = b
	}
	return out
}

func rewrapTree(t *testing.T, tr *testTree, r maintain.Rewrapper, target envelope.KeyRef) *maintain.Summary {
	t.Helper()
	s, err := maintain.Run(context.Background(), tr.dir, maintain.RewrapTask(r, target), maintain.Options{Jobs: 8})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newLocal(t *testing.T, dir string, k *kms, o maintain.LocalOptions) *maintain.Local {
	t.Helper()
	l, err := maintain.NewLocal(dir, k.keysFor(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// TestLocalRewrap moves every header to the newest version, changing only
// header bytes and keeping contents and times; a second run finds every
// file current.
func TestLocalRewrap(t *testing.T) {
	k := newKMS(t)
	tr := newTestTree(t, k, 60)
	before := tr.snapshot(t)
	v2 := k.rotate(t)
	l := newLocal(t, tr.dir, k, maintain.LocalOptions{})

	s := rewrapTree(t, tr, l, v2)
	empty := int64(len(tr.files)) - tr.nonEmpty()
	if s.Changed != tr.nonEmpty() || s.Current != empty || s.Failed != 0 || s.Skipped != 3 {
		t.Fatalf("first run: %+v; want %d changed, %d current, 3 skipped", *s, tr.nonEmpty(), empty)
	}
	after := tr.snapshot(t)
	for rel, plain := range tr.files {
		p := filepath.Join(tr.dir, rel)
		checkOnlyHeaderChanged(t, rel, before[rel], after[rel])
		if got := readFile(t, k.keys(), p); !bytes.Equal(got, plain) {
			t.Errorf("%s: contents changed", rel)
		}
		if len(plain) > 0 && headerRef(t, k.keys(), p) != v2 {
			t.Errorf("%s: header under %v, want %v", rel, headerRef(t, k.keys(), p), v2)
		}
		if fi, err := os.Stat(p); err != nil || fi.ModTime().Year() != 2001 {
			t.Errorf("%s: mtime %v, want it kept", rel, fi.ModTime())
		}
	}
	if s := rewrapTree(t, tr, l, v2); s.Changed != 0 || s.Current != int64(len(tr.files)) || s.Failed != 0 {
		t.Errorf("second run: %+v; want everything current", *s)
	}
	if again := tr.snapshot(t); !mapsEqual(again, after) {
		t.Error("a run over current files wrote to them")
	}
}

// checkOnlyHeaderChanged: same size, same preamble, same body; only the
// slots may differ, and they must for a non-empty file.
func checkOnlyHeaderChanged(t *testing.T, rel string, before, after []byte) {
	t.Helper()
	switch {
	case len(before) != len(after):
		t.Errorf("%s: size %d -> %d", rel, len(before), len(after))
	case len(before) == 0:
	case !bytes.Equal(before[envelope.HeaderSize:], after[envelope.HeaderSize:]):
		t.Errorf("%s: body changed", rel)
	case !bytes.Equal(before[:envelope.PreambleSize], after[:envelope.PreambleSize]):
		t.Errorf("%s: preamble changed", rel)
	case bytes.Equal(before[:envelope.HeaderSize], after[:envelope.HeaderSize]):
		t.Errorf("%s: header unchanged", rel)
	}
}

func mapsEqual(a, b map[string][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !bytes.Equal(v, b[k]) {
			return false
		}
	}
	return true
}

// TestLocalRewrapOtherKey moves a tree to another key.
func TestLocalRewrapOtherKey(t *testing.T) {
	k := newKMS(t)
	tr := newTestTree(t, k, 12)
	other, err := k.kr.CreateKey(context.Background(), &keyring.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	target := envelope.KeyRef{KeyID: uuid.MustParse(other.KeyMetadata.KeyId), Version: 1}
	s := rewrapTree(t, tr, newLocal(t, tr.dir, k, maintain.LocalOptions{}), target)
	if s.Changed != tr.nonEmpty() || s.Failed != 0 {
		t.Fatalf("summary %+v", *s)
	}
	for rel, plain := range tr.files {
		if len(plain) > 0 && headerRef(t, k.keys(), filepath.Join(tr.dir, rel)) != target {
			t.Errorf("%s not moved to the other key", rel)
		}
	}
}

// TestLocalRewrapRetired fails, with the keyring's error, for files under a
// retired version, and leaves them untouched.
func TestLocalRewrapRetired(t *testing.T) {
	k := newKMS(t)
	tr := newTestTree(t, k, 6)
	v2 := k.rotate(t)
	if err := k.kr.SetMinDecryptionVersion(context.Background(), k.keyID, 2); err != nil {
		t.Fatal(err)
	}
	before := tr.snapshot(t)
	s := rewrapTree(t, tr, newLocal(t, tr.dir, k, maintain.LocalOptions{}), v2)
	if s.Failed != tr.nonEmpty() || s.Changed != 0 {
		t.Fatalf("summary %+v; want every non-empty file failed", *s)
	}
	if !errors.Is(s.Err(), keyring.ErrVersionRetired) {
		t.Errorf("Err() = %v, want ErrVersionRetired", s.Err())
	}
	if !mapsEqual(before, tr.snapshot(t)) {
		t.Error("failed rewraps changed files")
	}
}

// TestLocalBusy refuses files another descriptor of the process holds,
// with RefuseOpenInProcess, and rewraps them once closed.
func TestLocalBusy(t *testing.T) {
	k := newKMS(t)
	dir := t.TempDir()
	p := writeFile(t, k.keys(), dir, "held", content(1, 100))
	if err := os.Link(p, filepath.Join(dir, "other-name")); err != nil {
		t.Fatal(err)
	}
	v2 := k.rotate(t)
	strict := newLocal(t, dir, k, maintain.LocalOptions{RefuseOpenInProcess: true})
	lax := newLocal(t, dir, k, maintain.LocalOptions{})
	held, err := os.Open(filepath.Join(dir, "other-name")) // the same inode, by another name
	if err != nil {
		t.Fatal(err)
	}
	if _, err := strict.RewrapFile(context.Background(), "held", v2); !errors.Is(err, maintain.ErrBusy) {
		t.Fatalf("rewrap of an open file: %v, want ErrBusy", err)
	}
	held.Close()
	res, err := strict.RewrapFile(context.Background(), "held", v2)
	if err != nil || !res.Changed || res.Old != k.ref(1) || res.New != v2 {
		t.Fatalf("rewrap after close: %+v, %v", res, err)
	}
	k.rotate(t)
	held, _ = os.Open(p)
	defer held.Close()
	if res, err := lax.RewrapFile(context.Background(), "held", k.ref(3)); err != nil || !res.Changed {
		t.Errorf("without RefuseOpenInProcess: %+v, %v; want rewrapped", res, err)
	}
}

func TestLocalBadPath(t *testing.T) {
	k := newKMS(t)
	dir := t.TempDir()
	writeFile(t, k.keys(), dir, "sub/f", content(1, 10))
	if err := os.Symlink("sub/f", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	l := newLocal(t, dir, k, maintain.LocalOptions{})
	for _, tc := range []struct {
		rel  string
		want error
	}{
		{"", maintain.ErrBadPath},
		{"../f", maintain.ErrBadPath},
		{"/etc/passwd", maintain.ErrBadPath},
		{"sub", maintain.ErrBadPath},
		{"missing", os.ErrNotExist},
	} {
		if _, err := l.RewrapFile(context.Background(), tc.rel, k.ref(1)); !errors.Is(err, tc.want) {
			t.Errorf("RewrapFile(%q): %v, want %v", tc.rel, err, tc.want)
		}
	}
	if _, err := l.RewrapFile(context.Background(), "link", k.ref(1)); err == nil {
		t.Error("RewrapFile followed a symlink")
	}
}

// TestLocalRewrapCleansStaleSlot: a file whose current slot is under the
// target but whose other slot still wraps the DEK under the old version
// (rewrapped by a writer that did not mirror, FORMAT.md §4.5) is not
// current: a rerun rewrites it so that no slot keeps the old wrap.
func TestLocalRewrapCleansStaleSlot(t *testing.T) {
	k := newKMS(t)
	dir := t.TempDir()
	p := writeFile(t, k.keys(), dir, "f", content(1, 5000))
	before, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	v2 := k.rotate(t)
	l := newLocal(t, dir, k, maintain.LocalOptions{})
	if res, err := l.RewrapFile(context.Background(), "f", v2); err != nil || !res.Changed {
		t.Fatalf("first rewrap: %+v, %v", res, err)
	}
	// Put back the old slot that is now the mirror: its generation is below
	// the current one, and it authenticates under version 1.
	after, _ := os.ReadFile(p)
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	for pos := range 2 {
		off := envelope.PreambleSize + pos*envelope.SlotSize
		s, err := envelope.ParseSlot(after[off : off+envelope.SlotSize])
		if err != nil {
			t.Fatal(err)
		}
		old, err := envelope.ParseSlot(before[off : off+envelope.SlotSize])
		if err == nil && old.Generation == s.Generation && old.KeyRef.Version == 1 {
			if _, err := f.WriteAt(before[off:off+envelope.SlotSize], int64(off)); err != nil {
				t.Fatal(err)
			}
		}
	}
	f.Close()
	refs, err := envelope.ReadSlotRefs(mustOpen(t, p))
	if err != nil || refs.Newest != v2 || len(refs.All) != 2 || refs.All[1].Version != 1 {
		t.Fatalf("could not stage a stale slot: %+v, %v", refs, err)
	}
	res, err := l.RewrapFile(context.Background(), "f", v2)
	if err != nil || !res.Changed || res.New != v2 {
		t.Fatalf("rewrap of a file with a stale slot: %+v, %v; want it rewritten", res, err)
	}
	refs, err = envelope.ReadSlotRefs(mustOpen(t, p))
	if err != nil || len(refs.All) != 2 || refs.All[0] != v2 || refs.All[1] != v2 {
		t.Errorf("slots after cleaning: %+v, %v; want both under v2", refs, err)
	}
	if res, err := l.RewrapFile(context.Background(), "f", v2); err != nil || res.Changed {
		t.Errorf("third rewrap: %+v, %v; want nothing to do", res, err)
	}
	if got := readFile(t, k.keys(), p); !bytes.Equal(got, content(1, 5000)) {
		t.Error("contents changed")
	}
}

func mustOpen(t *testing.T, p string) *os.File {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}
