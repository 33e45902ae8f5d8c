package names_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/kmsfs/kmsfs/internal/names"
)

// cipherTree builds a CIPHERDIR by hand, as the mount would write it.
type cipherTree struct {
	t   testing.TB
	c   *names.Codec
	dir string
}

// mkdir makes the encrypted directory plain (slash-separated, parents
// existing) with a fresh IV and returns its cipher path.
func (ct *cipherTree) mkdir(plain string) string {
	ct.t.Helper()
	rel := ct.create(plain, func(p string) error { return os.Mkdir(p, 0o755) })
	iv, err := names.NewDirIV()
	if err != nil {
		ct.t.Fatal(err)
	}
	if err := names.WriteDirIV(filepath.Join(ct.dir, rel), iv); err != nil {
		ct.t.Fatal(err)
	}
	return rel
}

// file makes the file plain and returns its cipher path.
func (ct *cipherTree) file(plain string) string {
	ct.t.Helper()
	return ct.create(plain, func(p string) error { return os.WriteFile(p, []byte("x"), 0o644) })
}

// create encrypts plain component by component and makes the last one
// with mk, writing a long name's side file first.
func (ct *cipherTree) create(plain string, mk func(string) error) string {
	ct.t.Helper()
	dirRel, base := ".", plain
	if i := strings.LastIndexByte(plain, '/'); i >= 0 {
		d, err := names.NewTree(ct.c, ct.dir).CipherPath(plain[:i])
		if err != nil {
			ct.t.Fatal(err)
		}
		dirRel, base = d, plain[i+1:]
	}
	dir := filepath.Join(ct.dir, dirRel)
	iv, err := names.ReadDirIV(dir)
	if err != nil {
		ct.t.Fatal(err)
	}
	disk, side, err := ct.c.EncryptName(iv, base)
	if err != nil {
		ct.t.Fatal(err)
	}
	if side != "" {
		if err := os.WriteFile(filepath.Join(dir, names.LongSideFile(disk)), []byte(side), 0o400); err != nil {
			ct.t.Fatal(err)
		}
	}
	if err := mk(filepath.Join(dir, disk)); err != nil {
		ct.t.Fatal(err)
	}
	return filepath.ToSlash(filepath.Join(dirRel, disk))
}

func newCipherTree(t *testing.T) *cipherTree {
	t.Helper()
	ct := &cipherTree{t: t, c: newCodec(t, 7), dir: t.TempDir()}
	iv, err := names.NewDirIV()
	if err != nil {
		t.Fatal(err)
	}
	if err := names.WriteDirIV(ct.dir, iv); err != nil {
		t.Fatal(err)
	}
	return ct
}

// TestTreePaths maps cipher paths to plaintext paths and back, through
// short and long names, nested directories and Unicode.
func TestTreePaths(t *testing.T) {
	ct := newCipherTree(t)
	long := strings.Repeat("L", 200)
	ct.mkdir("docs")
	ct.mkdir("docs/" + long)
	ct.mkdir("docs/" + long + "/ünïcødé ✓")
	plainPaths := []string{
		"docs",
		"docs/readme.txt",
		"docs/" + long,
		"docs/" + long + "/" + strings.Repeat("x", 255),
		"docs/" + long + "/ünïcødé ✓",
		"docs/" + long + "/ünïcødé ✓/a",
	}
	for _, p := range plainPaths[1:] {
		if !strings.HasSuffix(p, long) && !strings.HasSuffix(p, "✓") {
			ct.file(p)
		}
	}
	tree := names.NewTree(ct.c, ct.dir)
	for _, p := range plainPaths {
		rel, err := tree.CipherPath(p)
		if err != nil {
			t.Fatalf("CipherPath(%q): %v", p, err)
		}
		if _, err := os.Lstat(filepath.Join(ct.dir, rel)); err != nil {
			t.Errorf("CipherPath(%q) = %q, which does not exist: %v", p, rel, err)
		}
		if strings.Contains(rel, "readme") || strings.Contains(rel, "docs") || strings.Contains(rel, "LLLL") {
			t.Errorf("cipher path %q shows a plaintext name", rel)
		}
		if got := tree.PlainPath(rel); got != p {
			t.Errorf("PlainPath(CipherPath(%q)) = %q", p, got)
		}
		if got := tree.Display(rel); got != p {
			t.Errorf("Display = %q, want %q", got, p)
		}
		// A fresh Tree (cold cache) agrees.
		if got := names.NewTree(ct.c, ct.dir).PlainPath(rel); got != p {
			t.Errorf("fresh PlainPath = %q, want %q", got, p)
		}
	}
	for _, rel := range []string{"", "."} {
		if got := tree.PlainPath(rel); got != rel {
			t.Errorf("PlainPath(%q) = %q", rel, got)
		}
	}
	if got, err := tree.CipherPath("/"); err != nil || got != "." {
		t.Errorf("CipherPath(/) = %q, %v", got, err)
	}
}

// TestTreeDamaged checks that damaged names, IV files and side files map
// to marked names (never an error, never a wrong name), and that marked
// names map back to the entries they mark.
func TestTreeDamaged(t *testing.T) {
	ct := newCipherTree(t)
	dRel := ct.mkdir("d")
	fRel := ct.file("d/file")
	longRel := ct.file("d/" + strings.Repeat("y", 180))
	d := filepath.Join(ct.dir, dRel)
	conflict := filepath.Base(fRel) + " (conflicted copy)"
	hugeForeign := strings.Repeat("z", 250)
	for _, n := range []string{conflict, hugeForeign} {
		if err := os.WriteFile(filepath.Join(d, n), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A long name whose side file is gone.
	if err := os.Remove(filepath.Join(ct.dir, names.LongSideFile(longRel))); err != nil {
		t.Fatal(err)
	}
	tree := names.NewTree(ct.c, ct.dir)
	cases := []struct{ rel, want string }{
		{dRel + "/" + conflict, "d/" + names.Mark(conflict)},
		{dRel + "/" + hugeForeign, "d/" + names.Mark(hugeForeign)},
		{longRel, "d/" + names.Mark(filepath.Base(longRel))},
		{dRel + "/" + names.DirIVFile, "d/" + names.DirIVFile},
		{"kmsfs.diriv (1)", "kmsfs.diriv (1)"},
		{"notes.txt", names.Mark("notes.txt")},
		{"kmsfs (1).diriv", "kmsfs (1).diriv"},
	}
	for _, tc := range cases {
		if got := tree.PlainPath(tc.rel); got != tc.want {
			t.Errorf("PlainPath(%q) = %q, want %q", tc.rel, got, tc.want)
		}
	}
	for _, disk := range []string{conflict, hugeForeign, filepath.Base(longRel)} {
		rel, err := tree.CipherPath("d/" + names.Mark(disk))
		if err != nil || rel != dRel+"/"+disk {
			t.Errorf("CipherPath of the mark of %q = %q, %v", disk, rel, err)
		}
	}
	if _, err := tree.CipherPath("d/" + names.Mark(strings.Repeat("q", 250))); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("hashed mark of no entry: %v, want ErrNotExist", err)
	}

	// Without its IV, every entry of d is marked, and plain names cannot
	// be mapped into d.
	if err := os.Remove(filepath.Join(d, names.DirIVFile)); err != nil {
		t.Fatal(err)
	}
	tree = names.NewTree(ct.c, ct.dir)
	if got, want := tree.PlainPath(fRel), "d/"+names.Mark(filepath.Base(fRel)); got != want {
		t.Errorf("without IV: PlainPath = %q, want %q", got, want)
	}
	if _, err := tree.CipherPath("d/file"); !errors.Is(err, names.ErrNoDirIV) {
		t.Errorf("without IV: CipherPath = %v, want ErrNoDirIV", err)
	}
	if rel, err := tree.CipherPath("d/" + names.Mark(hugeForeign)); err != nil || rel != dRel+"/"+hugeForeign {
		t.Errorf("without IV: hashed mark = %q, %v", rel, err)
	}
	// A file moved into another directory is never shown under its name.
	ct.mkdir("e")
	eRel, _ := names.NewTree(ct.c, ct.dir).CipherPath("e")
	moved := eRel + "/" + filepath.Base(fRel)
	if err := os.Rename(filepath.Join(ct.dir, fRel), filepath.Join(ct.dir, moved)); err != nil {
		t.Fatal(err)
	}
	if got := names.NewTree(ct.c, ct.dir).PlainPath(moved); got == "e/file" {
		t.Errorf("moved entry shows its old name")
	}
}

func TestReadLongSide(t *testing.T) {
	c := newCodec(t, 3)
	dir := t.TempDir()
	iv := testIV(1)
	disk, side, err := c.EncryptName(iv, strings.Repeat("n", 200))
	if err != nil || side == "" {
		t.Fatalf("EncryptName: %q, %v", side, err)
	}
	sidePath := filepath.Join(dir, names.LongSideFile(disk))
	write := func(b []byte) {
		t.Helper()
		_ = os.Remove(sidePath)
		if err := os.WriteFile(sidePath, b, 0o400); err != nil {
			t.Fatal(err)
		}
	}
	write([]byte(side))
	if got, err := names.ReadLongSide(dir, disk); err != nil || got != side {
		t.Fatalf("ReadLongSide = %d bytes, %v", len(got), err)
	}
	if got := c.DecryptEntry(dir, iv, disk); got != strings.Repeat("n", 200) {
		t.Errorf("DecryptEntry = %q", got)
	}
	cases := []struct {
		name  string
		setup func()
	}{
		{"missing", func() { _ = os.Remove(sidePath) }},
		{"newline added", func() { write([]byte(side + "\n")) }},
		{"truncated", func() { write([]byte(side[:len(side)-1])) }},
		{"too long", func() { write([]byte(side + strings.Repeat("A", 400))) }},
		{"symlink", func() {
			_ = os.Remove(sidePath)
			real := filepath.Join(dir, "real")
			_ = os.WriteFile(real, []byte(side), 0o600)
			if err := os.Symlink(real, sidePath); err != nil {
				t.Fatal(err)
			}
		}},
		{"fifo", func() {
			_ = os.Remove(sidePath)
			if err := syscall.Mkfifo(sidePath, 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{"directory", func() {
			_ = os.Remove(sidePath)
			if err := os.Mkdir(sidePath, 0o700); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.setup()
			if got, err := names.ReadLongSide(dir, disk); err == nil {
				t.Errorf("ReadLongSide = %d bytes, nil error", len(got))
			}
			if got := c.DecryptEntry(dir, iv, disk); got != names.Mark(disk) {
				t.Errorf("DecryptEntry = %q, want marked", got)
			}
			_ = os.Remove(sidePath)
		})
	}
	if _, err := names.ReadLongSide(dir, "short"); !errors.Is(err, names.ErrBadName) {
		t.Errorf("ReadLongSide of a short name: %v", err)
	}
}
