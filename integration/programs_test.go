package integration

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestCopyLargeFile copies 256 MiB of random data in and out with cp and dd.
func TestCopyLargeFile(t *testing.T) {
	v := newVol(t)
	v.mount()
	size := int64(256 << 20)
	if testing.Short() {
		size = 16 << 20
	}
	src := filepath.Join(v.base, "random.bin")
	want := writeRandomFile(t, src, size)
	sh(t, v.base, "cp random.bin plain/copied.bin && dd if=random.bin of=plain/dd.bin bs=1M status=none conv=fsync")
	for _, name := range []string{"copied.bin", "dd.bin"} {
		if got := fileSHA256(t, filepath.Join(v.plain, name)); got != want {
			t.Errorf("%s: sha256 differs after round trip", name)
		}
		if st, err := os.Stat(filepath.Join(v.plain, name)); err != nil || st.Size() != size {
			t.Errorf("%s: stat size %v, %v; want %d", name, st.Size(), err, size)
		}
	}
	sh(t, v.base, "cp plain/copied.bin back.bin")
	if got := fileSHA256(t, filepath.Join(v.base, "back.bin")); got != want {
		t.Error("copy out of the mount differs")
	}
	assertNoPlaintext(t, v.cipher, src)
}

// TestGoSourceTree extracts a tarball of Go's source tree into the mount
// and into a plain directory and compares them with diff -r.
func TestGoSourceTree(t *testing.T) {
	needTool(t, "tar")
	v := newVol(t)
	v.mount()
	goroot := strings.TrimSpace(sh(t, v.base, "go env GOROOT"))
	sub := "src"
	if testing.Short() {
		sub = "src/crypto"
	}
	sh(t, v.base, "tar -C "+goroot+" -cf go.tar "+sub)
	sh(t, v.base, "mkdir ref && tar -C ref -xf go.tar && tar -C plain -xf go.tar")
	sh(t, v.base, "diff -r ref/src plain/src")
	// Ciphertext never holds a whole source line of a known file.
	assertNoPlaintext(t, v.cipher, filepath.Join(v.base, "ref", "src", "crypto", "aes", "aes.go"))
}

func TestGit(t *testing.T) {
	needTool(t, "git")
	v := newVol(t)
	v.mount()
	script := `git init -q repo && cd repo && git config user.email t@example.com && git config user.name t
for i in $(seq 1 20); do echo "line $i" >> file.txt; git add file.txt; git commit -qm "commit $i"; done
git log --oneline | wc -l
git gc -q && git fsck --full 2>&1 | grep -v '^Checking' || true
git log --oneline | wc -l`
	plainOut := sh(t, v.base, "mkdir ref && cd ref && "+script)
	mountOut := sh(t, v.plain, script)
	if plainOut != mountOut {
		t.Errorf("git through the mount printed\n%s\nwant (plain directory)\n%s", mountOut, plainOut)
	}
	if !strings.Contains(mountOut, "20") {
		t.Errorf("git log does not show 20 commits: %s", mountOut)
	}
}

func TestRsync(t *testing.T) {
	needTool(t, "rsync")
	v := newVol(t)
	v.mount()
	goroot := strings.TrimSpace(sh(t, v.base, "go env GOROOT"))
	sh(t, v.base, "rsync -a "+goroot+"/src/encoding/ plain/enc/ && rsync -a plain/enc/ back/")
	sh(t, v.base, "diff -r "+goroot+"/src/encoding back")
	// A second rsync finds nothing to transfer: sizes and times match.
	out := sh(t, v.base, "rsync -ai "+goroot+"/src/encoding/ plain/enc/")
	if strings.TrimSpace(out) != "" {
		t.Errorf("second rsync transferred files, so sizes or times are off:\n%s", out)
	}
}

func TestSQLite(t *testing.T) {
	needTool(t, "sqlite3")
	v := newVol(t)
	v.mount()
	script := `sqlite3 db.sqlite "create table t(id integer primary key, v text);
begin; ` + strings.Repeat("insert into t(v) values (hex(randomblob(200)));", 2000) + ` commit;
create index tv on t(v); delete from t where id % 3 = 0; vacuum;
pragma integrity_check; select count(*) from t;"`
	plainOut := sh(t, v.base, script)
	mountOut := sh(t, v.plain, script)
	if plainOut != mountOut {
		t.Errorf("sqlite3 through the mount printed %q, on a plain directory %q", mountOut, plainOut)
	}
}

// TestAppendWriters runs two processes appending with O_APPEND at once.
func TestAppendWriters(t *testing.T) {
	v := newVol(t)
	v.mount()
	const n = 2000
	sh(t, v.plain, `w() { for i in $(seq 1 `+strconv.Itoa(n)+`); do printf '%s-%05d\n' "$1" "$i" >> log.txt; done; }
w a & w b & wait`)
	b, err := os.ReadFile(filepath.Join(v.plain, "log.txt"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != 2*n {
		t.Fatalf("got %d lines, want %d", len(lines), 2*n)
	}
	seen := map[string]bool{}
	for _, l := range lines {
		if len(l) != 7 || seen[l] {
			t.Fatalf("torn or duplicate record %q", l)
		}
		seen[l] = true
	}
}

func writeRandomFile(t *testing.T, path string, size int64) string {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(rand.Reader, size)); err != nil {
		t.Fatal(err)
	}
	return string(h.Sum(nil))
}

func fileSHA256(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	return string(h.Sum(nil))
}

// assertNoPlaintext fails if any 32-byte window of the first 64 KiB of
// plainFile appears in any file under cipherDir.
func assertNoPlaintext(t *testing.T, cipherDir, plainFile string) {
	t.Helper()
	plain, err := os.ReadFile(plainFile)
	if err != nil {
		t.Fatal(err)
	}
	plain = plain[:min(len(plain), 64<<10)]
	var needles [][]byte
	for i := 0; i+32 <= len(plain); i += 512 {
		needles = append(needles, plain[i:i+32])
	}
	err = filepath.Walk(cipherDir, func(path string, info os.FileInfo, err error) error {
		if err != nil || !info.Mode().IsRegular() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, n := range needles {
			if bytes.Contains(b, n) {
				t.Errorf("plaintext of %s found in ciphertext %s", plainFile, path)
				return nil
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
