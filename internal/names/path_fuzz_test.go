package names_test

import (
	"strings"
	"testing"

	"github.com/kmsfs/kmsfs/internal/names"
)

// FuzzTreePlainPath maps arbitrary cipher paths of a small real tree: it
// never panics, keeps the number of components, and every component it
// decrypts maps back to itself through CipherPath.
func FuzzTreePlainPath(f *testing.F) {
	for _, s := range seeds(f, "name", "disk-name") {
		f.Add(s)
		f.Add(s + "/" + s)
	}
	ct := &cipherTree{t: f, c: vectorCodec(f), dir: f.TempDir()}
	iv, err := names.NewDirIV()
	if err != nil {
		f.Fatal(err)
	}
	if err := names.WriteDirIV(ct.dir, iv); err != nil {
		f.Fatal(err)
	}
	ct.mkdir("d")
	long := ct.file("d/" + strings.Repeat("z", 200))
	f.Add(long)
	f.Add(long + "/x")
	tree := names.NewTree(ct.c, ct.dir)
	f.Fuzz(func(t *testing.T, rel string) {
		plain := tree.PlainPath(rel)
		if strings.Count(plain, "/") != strings.Count(rel, "/") {
			t.Fatalf("PlainPath(%q) = %q: components changed", rel, plain)
		}
		if rel == "" || rel == "." || strings.Contains(rel, "\x00") {
			return
		}
		parts, got := strings.Split(rel, "/"), strings.Split(plain, "/")
		for i, p := range got {
			if p == "" || names.IsReserved(parts[i]) {
				return // CipherPath does not map empty or reserved components
			}
		}
		back, err := tree.CipherPath(plain)
		if err == nil && back != rel {
			t.Fatalf("CipherPath(PlainPath(%q)) = %q", rel, back)
		}
	})
}
