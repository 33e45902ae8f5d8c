package integration

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kmsfs/kmsfs/envelope"
)

// plainVol is a volume whose names are stored in plaintext, so that tests
// can find a file's ciphertext by its name (when the binary knows the
// choice; before encrypted names, every volume is so).
func plainVol(t *testing.T) *vol {
	t.Helper()
	testutilHelp, _ := exec.Command(kmsfsBin, "init", "--help").CombinedOutput()
	if bytes.Contains(testutilHelp, []byte("--plaintext-names")) {
		return newVol(t, "--plaintext-names")
	}
	return newVol(t)
}

// newestVersion reads the header of the ciphertext file at p structurally
// (envelope.ParsePreamble/ParseSlot, independent of the code under test)
// and returns the key version of its highest-generation slot; 0 for an
// empty file.
func newestVersion(t *testing.T, p string) uint32 {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) == 0 {
		return 0
	}
	if len(b) < envelope.HeaderSize {
		t.Fatalf("%s: %d bytes, shorter than a header", p, len(b))
	}
	if _, err := envelope.ParsePreamble(b[:envelope.PreambleSize]); err != nil {
		t.Fatalf("%s: %v", p, err)
	}
	var best envelope.Slot
	for pos := range 2 {
		off := envelope.PreambleSize + pos*envelope.SlotSize
		s, err := envelope.ParseSlot(b[off : off+envelope.SlotSize])
		if err == nil && s.Generation > best.Generation {
			best = s
		}
	}
	return best.KeyRef.Version
}

// cipherFiles lists the regular files of v's cipher tree except kmsfs.conf,
// relative to it.
func cipherFiles(t *testing.T, v *vol) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(v.cipher, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() && !(filepath.Dir(p) == v.cipher && strings.HasPrefix(d.Name(), "kmsfs.conf")) {
			rel, _ := filepath.Rel(v.cipher, p)
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// writeFiles writes n files of distinct sizes through the mount and
// returns their contents by path relative to the mount.
func writeFiles(t *testing.T, v *vol, n int, maxSize int) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	for i := range n {
		rel := fmt.Sprintf("d%02d/f%04d", i%10, i)
		data := make([]byte, (i*7919)%maxSize)
		for j := range data {
			data[j] = byte(i + j*31)
		}
		p := filepath.Join(v.plain, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		files[rel] = data
	}
	return files
}

// checkFiles reads every file through the mount.
func checkFiles(t *testing.T, v *vol, files map[string][]byte) {
	t.Helper()
	for rel, want := range files {
		got, err := os.ReadFile(filepath.Join(v.plain, rel))
		if err != nil {
			t.Errorf("%s: %v", rel, err)
		} else if !bytes.Equal(got, want) {
			t.Errorf("%s: contents differ", rel)
		}
	}
}

// versions counts the cipher files by the version of their newest slot.
func versions(t *testing.T, v *vol, rels []string) map[uint32]int {
	t.Helper()
	out := map[uint32]int{}
	for _, rel := range rels {
		out[newestVersion(t, filepath.Join(v.cipher, rel))]++
	}
	return out
}

// kmsfsUnlocked runs kmsfs, retrying for a few seconds while it finds the
// keyring locked: a serving process that was just unmounted removes its
// socket before it closes the keyring.
func (v *vol) kmsfsUnlocked(args ...string) (stdout, stderr string, code int) {
	v.t.Helper()
	for range 100 {
		stdout, stderr, code = v.kmsfs(args...)
		if code != 7 {
			return stdout, stderr, code
		}
		time.Sleep(50 * time.Millisecond)
	}
	return stdout, stderr, code
}

// mustUnlocked is must with kmsfsUnlocked's retry.
func (v *vol) mustUnlocked(args ...string) string {
	v.t.Helper()
	out, errOut, code := v.kmsfsUnlocked(args...)
	if code != 0 {
		v.t.Fatalf("kmsfs %s: exit %d: %s%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// TestRewrapOffline: after a rotation, rewrap moves every header to the
// newest version; the bodies are byte-identical, only header bytes change,
// the plaintext is the same, and a rerun finds nothing to do.
func TestRewrapOffline(t *testing.T) {
	v := plainVol(t)
	v.mount()
	files := writeFiles(t, v, 60, 300_000)
	v.umount()
	rels := cipherFiles(t, v)
	before := map[string][]byte{}
	for _, rel := range rels {
		before[rel], _ = os.ReadFile(filepath.Join(v.cipher, rel))
	}
	headers := 0
	for _, b := range before {
		if len(b) > 0 {
			headers++
		}
	}
	v.mustUnlocked("key", "rotate", "alias/kmsfs")
	out := v.mustUnlocked("rewrap", v.cipher)
	want := fmt.Sprintf("%d rewrapped, %d already current, 0 failed", headers, len(rels)-headers)
	if !strings.Contains(out, "(offline)") || !strings.Contains(out, want) {
		t.Fatalf("rewrap: %s\nwant %q", out, want)
	}
	for _, rel := range rels {
		after, _ := os.ReadFile(filepath.Join(v.cipher, rel))
		b := before[rel]
		switch {
		case len(b) != len(after):
			t.Errorf("%s: size changed", rel)
		case len(b) == 0:
		case !bytes.Equal(b[envelope.HeaderSize:], after[envelope.HeaderSize:]):
			t.Errorf("%s: body changed", rel)
		case bytes.Equal(b[:envelope.HeaderSize], after[:envelope.HeaderSize]):
			t.Errorf("%s: header unchanged", rel)
		case newestVersion(t, filepath.Join(v.cipher, rel)) != 2:
			t.Errorf("%s: newest slot not under version 2", rel)
		}
	}
	if out := v.must("rewrap", v.cipher); !strings.Contains(out, fmt.Sprintf("0 rewrapped, %d already current", len(rels))) {
		t.Errorf("rerun: %s", out)
	}
	v.mount()
	checkFiles(t, v, files)
}

// TestRewrapKill kills rewrap with SIGKILL at random points of its run,
// several rounds (each after a new rotation): every file still decrypts
// after each kill, and a final run completes with every header current.
func TestRewrapKill(t *testing.T) {
	v := plainVol(t)
	v.mount()
	files := writeFiles(t, v, 300, 5000)
	v.umount()
	rels := cipherFiles(t, v)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 4))
	mixed := 0
	for round := range 3 {
		v.mustUnlocked("key", "rotate", "alias/kmsfs")
		want := uint32(round + 2)
		stopAt := 1 + rng.IntN(len(rels)-2)
		killed := killRewrapAt(t, v, rels, want, stopAt)
		counts := versions(t, v, rels)
		t.Logf("round %d: killed=%v after >= %d of %d current; versions now %v", round, killed, stopAt, len(rels), counts)
		if killed && counts[want] > 0 && counts[want] < len(rels)-1 {
			mixed++
		}
		v.mount()
		checkFiles(t, v, files)
		v.umount()
	}
	if mixed == 0 {
		t.Error("no round was killed in the middle of the run: the test did not test anything")
	}
	out := v.mustUnlocked("rewrap", v.cipher)
	if !strings.Contains(out, "0 failed") {
		t.Fatalf("final rewrap: %s", out)
	}
	if counts := versions(t, v, rels); counts[4]+counts[0] != len(rels) {
		t.Errorf("after the final run, versions %v; want every non-empty file at 4", counts)
	}
	if out := v.must("rewrap", v.cipher); !strings.Contains(out, "0 rewrapped") {
		t.Errorf("rerun after completion: %s", out)
	}
}

// killRewrapAt starts kmsfs rewrap and sends it SIGKILL as soon as at
// least stopAt files have their newest slot under version want. It
// reports whether the kill came before the process ended by itself.
func killRewrapAt(t *testing.T, v *vol, rels []string, want uint32, stopAt int) bool {
	t.Helper()
	cmd := exec.Command(kmsfsBin, "--keyring", v.keyring, "--passfile", v.passfile, "rewrap", "--jobs", "2", v.cipher)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	for {
		select {
		case <-done:
			return false
		default:
		}
		if countAt(v, rels, want) >= stopAt {
			cmd.Process.Signal(syscall.SIGKILL)
			err := <-done
			var exit *exec.ExitError
			return errors.As(err, &exit) && !exit.Exited()
		}
		time.Sleep(time.Millisecond)
	}
}

// countAt counts files whose newest slot is under version want, reading
// only the slot fields (it runs beside the writer, so a torn read is
// possible and simply not counted).
func countAt(v *vol, rels []string, want uint32) int {
	n := 0
	buf := make([]byte, envelope.HeaderSize)
	for _, rel := range rels {
		f, err := os.Open(filepath.Join(v.cipher, rel))
		if err != nil {
			continue
		}
		m, _ := f.ReadAt(buf, 0)
		f.Close()
		if m < envelope.HeaderSize {
			continue
		}
		var best envelope.Slot
		for pos := range 2 {
			off := envelope.PreambleSize + pos*envelope.SlotSize
			if s, err := envelope.ParseSlot(buf[off : off+envelope.SlotSize]); err == nil && s.Generation > best.Generation {
				best = s
			}
		}
		if best.KeyRef.Version == want {
			n++
		}
	}
	return n
}

// TestRewrapMountedWithWriter rewraps through the mount while a writer
// appends to files and creates new ones: rewrap succeeds, every file reads,
// the writer's data is intact, and every header is current.
func TestRewrapMountedWithWriter(t *testing.T) {
	v := plainVol(t)
	v.mount()
	files := writeFiles(t, v, 150, 200_000)
	v.must("key", "rotate", "alias/kmsfs")

	var mu sync.Mutex
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			idx := (i * 13) % 150
			rel := fmt.Sprintf("d%02d/f%04d", idx%10, idx) // existing files
			line := []byte(fmt.Sprintf("append %d\n", i))
			if err := appendFile(filepath.Join(v.plain, rel), line); err != nil {
				t.Errorf("writer: %v", err)
				return
			}
			newRel := fmt.Sprintf("new/n%04d", i)
			data := bytes.Repeat(line, 1+i%5000)
			err := os.MkdirAll(filepath.Join(v.plain, "new"), 0o755)
			if err == nil {
				err = os.WriteFile(filepath.Join(v.plain, newRel), data, 0o644)
			}
			if err != nil {
				t.Errorf("writer: %v", err)
				return
			}
			mu.Lock()
			files[rel] = append(files[rel], line...)
			files[newRel] = data
			mu.Unlock()
		}
	}()
	time.Sleep(200 * time.Millisecond)
	out, errOut, code := v.kmsfs("rewrap", v.cipher)
	close(stop)
	wg.Wait()
	if code != 0 || !strings.Contains(out, "through the mount") || !strings.Contains(out, " 0 failed") {
		t.Fatalf("rewrap while mounted: exit %d\n%s%s", code, out, errOut)
	}
	t.Logf("rewrap through the mount with a writer: %s", strings.TrimSpace(out))
	checkFiles(t, v, files)
	v.umount()
	for _, rel := range cipherFiles(t, v) {
		if got := newestVersion(t, filepath.Join(v.cipher, rel)); got != 2 && got != 0 {
			t.Errorf("%s: newest slot under version %d, want 2", rel, got)
		}
	}
	if out := v.mustUnlocked("fsck", v.cipher); !strings.Contains(out, " 0 with problems") {
		t.Errorf("fsck after an online rewrap: %s", out)
	}
}

func appendFile(p string, b []byte) error {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// TestRetireVersions: min-version refuses while a file of the mounted
// volume is behind, naming it; --force retires anyway and the file then
// fails to open (EACCES: the key refuses, fs/errno_keys.go) and to decrypt
// (exit 5); after lowering, rewrapping and raising again, it reads.
func TestRetireVersions(t *testing.T) {
	v := plainVol(t)
	v.mount()
	if err := os.WriteFile(filepath.Join(v.plain, "old"), []byte("under version 1"), 0o644); err != nil {
		t.Fatal(err)
	}
	v.must("key", "rotate", "alias/kmsfs")
	if err := os.WriteFile(filepath.Join(v.plain, "new"), []byte("under version 2"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := v.kmsfs("key", "min-version", "alias/kmsfs", "2")
	if code == 0 || !strings.Contains(errOut, filepath.Join(v.cipher, "old")) || strings.Contains(errOut, filepath.Join(v.cipher, "new")) {
		t.Fatalf("min-version with a file behind: exit %d: %s", code, errOut)
	}
	v.must("key", "min-version", "--force", "alias/kmsfs", "2")
	if _, err := os.ReadFile(filepath.Join(v.plain, "old")); !errors.Is(err, syscall.EACCES) {
		t.Errorf("reading a file under a retired version: %v, want EACCES", err)
	}
	if b, err := os.ReadFile(filepath.Join(v.plain, "new")); err != nil || string(b) != "under version 2" {
		t.Errorf("file under version 2: %q, %v", b, err)
	}
	if _, errOut, code := v.kmsfs("decrypt", filepath.Join(v.cipher, "old")); code != 5 {
		t.Errorf("decrypt under a retired version: exit %d, want 5: %s", code, errOut)
	}
	v.must("key", "min-version", "alias/kmsfs", "1")
	v.must("rewrap", v.cipher)
	v.must("key", "min-version", "alias/kmsfs", "2")
	if b, err := os.ReadFile(filepath.Join(v.plain, "old")); err != nil || string(b) != "under version 1" {
		t.Errorf("after rewrap and retirement: %q, %v", b, err)
	}
	v.must("key", "destroy-versions", "--below", "2", "alias/kmsfs")
	if out := v.must("key", "describe", "alias/kmsfs"); !strings.Contains(out, "MinDecrypt:   2") {
		t.Errorf("describe: %s", out)
	}
}

// TestFsck finds a flipped bit, a truncated chunk, a missing header and a
// stray temporary file, naming the right files and exiting 6; a clean tree
// exits 0.
func TestFsck(t *testing.T) {
	v := plainVol(t)
	v.mount()
	files := writeFiles(t, v, 20, 400_000)
	for _, name := range []string{"flipped", "cut", "noheader", "healthy"} {
		if err := os.WriteFile(filepath.Join(v.plain, name), bytes.Repeat([]byte(name), 60_000), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	v.umount()
	if out, errOut, code := v.kmsfsUnlocked("fsck", v.cipher); code != 0 || !strings.Contains(out, "24 clean, 0 with problems") {
		t.Fatalf("fsck of a clean tree: exit %d\n%s%s", code, out, errOut)
	}
	const stored = chunk + chunkOverhead
	flipByte(t, filepath.Join(v.cipher, "flipped"), headerSize+2*stored+1000)
	if err := os.Truncate(filepath.Join(v.cipher, "cut"), headerSize+stored); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(filepath.Join(v.cipher, "noheader"), 100); err != nil {
		t.Fatal(err)
	}
	stray := filepath.Join("d03", ".kmsfs-rekey-00112233aabbccdd.tmp")
	if err := os.WriteFile(filepath.Join(v.cipher, stray), []byte("half"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := v.kmsfs("fsck", v.cipher)
	if code != 6 {
		t.Fatalf("fsck of a damaged tree: exit %d, want 6\n%s%s", code, out, errOut)
	}
	want := map[string]string{
		"flipped":  "chunk 2: envelope: message authentication failed",
		"cut":      "truncated",
		"noheader": "100-byte file is shorter than the 544-byte header",
		stray:      "stray temporary file",
	}
	reported := 0
	for _, line := range strings.Split(out, "\n") {
		path, problem, ok := strings.Cut(line, ": ")
		if !ok || strings.HasPrefix(line, "fsck ") {
			continue
		}
		reported++
		if w, found := want[path]; !found || !strings.Contains(problem, w) {
			t.Errorf("reported %q: %q", path, problem)
		}
	}
	if reported != len(want) || !strings.Contains(out, "21 clean, 4 with problems") {
		t.Errorf("fsck reported %d problems, want %d:\n%s", reported, len(want), out)
	}
	_ = files
}

// TestRekeyMounted re-keys a file through the mount: its ciphertext gets a
// new file ID (a fresh DEK), the contents, mode, times and user xattrs stay.
func TestRekeyMounted(t *testing.T) {
	v := plainVol(t)
	v.mount()
	p := filepath.Join(v.plain, "exposed")
	data := bytes.Repeat([]byte("the DEK of this file leaked "), 10_000)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, 0o640); err != nil {
		t.Fatal(err)
	}
	if err := unix.Setxattr(p, "user.note", []byte("keep me"), 0); err != nil {
		t.Fatal(err)
	}
	mtime := time.Date(2020, 2, 2, 2, 2, 2, 0, time.UTC)
	if err := os.Chtimes(p, mtime, mtime); err != nil {
		t.Fatal(err)
	}
	cipherPath := filepath.Join(v.cipher, "exposed")
	before, err := os.ReadFile(cipherPath)
	if err != nil {
		t.Fatal(err)
	}
	if out := v.must("rekey", p); !strings.Contains(out, "through the mount") {
		t.Fatalf("rekey: %s", out)
	}
	after, err := os.ReadFile(cipherPath)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(before[:envelope.PreambleSize], after[:envelope.PreambleSize]) {
		t.Error("file ID unchanged: no fresh DEK")
	}
	if got, err := os.ReadFile(p); err != nil || !bytes.Equal(got, data) {
		t.Errorf("contents after rekey: %v", err)
	}
	fi, err := os.Stat(p)
	if err != nil || fi.Mode().Perm() != 0o640 || !fi.ModTime().Equal(mtime) {
		t.Errorf("metadata after rekey: %v %v, %v", fi.Mode(), fi.ModTime(), err)
	}
	buf := make([]byte, 16)
	if n, err := unix.Getxattr(p, "user.note", buf); err != nil || string(buf[:n]) != "keep me" {
		t.Errorf("xattr after rekey: %q, %v", buf[:n], err)
	}
	if left, _ := filepath.Glob(filepath.Join(v.cipher, ".kmsfs-rekey-*")); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
	if _, errOut, code := v.kmsfs("rekey", cipherPath); code == 0 || !strings.Contains(errOut, "is mounted") {
		t.Errorf("rekey of a ciphertext path while mounted: exit %d: %s", code, errOut)
	}
}

// TestRewrapMoveKeyMounted moves a mounted tree to another key: the mount
// wraps files created afterwards under the new key at once, kmsfs.conf
// names it, and the tree mounts again under it.
func TestRewrapMoveKeyMounted(t *testing.T) {
	v := plainVol(t)
	v.mount()
	files := writeFiles(t, v, 30, 100_000)
	v.must("key", "create", "--alias", "other")
	out := v.must("--json", "rewrap", "--key", "alias/other", v.cipher)
	if !strings.Contains(out, `"Online": true`) || !strings.Contains(out, `"ConfigUpdated": true`) || !strings.Contains(out, `"Failed": 0`) {
		t.Fatalf("rewrap --key while mounted: %s", out)
	}
	if err := os.WriteFile(filepath.Join(v.plain, "after-move"), []byte("new file"), 0o644); err != nil {
		t.Fatal(err)
	}
	files["after-move"] = []byte("new file")
	conf, err := os.ReadFile(filepath.Join(v.cipher, "kmsfs.conf"))
	if err != nil || !bytes.Contains(conf, []byte(`"KeyAlias": "alias/other"`)) {
		t.Fatalf("kmsfs.conf after the move: %s, %v", conf, err)
	}
	v.umount()
	otherID := keyIDOf(t, v, "alias/other")
	for _, rel := range cipherFiles(t, v) {
		if id := newestKeyID(t, filepath.Join(v.cipher, rel)); id != "" && id != otherID {
			t.Errorf("%s: under key %s, want %s", rel, id, otherID)
		}
	}
	v.mount()
	checkFiles(t, v, files)
}

// keyIDOf returns the UUID of a key, as its 32 hex digits.
func keyIDOf(t *testing.T, v *vol, key string) string {
	t.Helper()
	out := v.mustUnlocked("key", "describe", key)
	for _, line := range strings.Split(out, "\n") {
		if id, ok := strings.CutPrefix(line, "KeyId:"); ok {
			return strings.ReplaceAll(strings.TrimSpace(id), "-", "")
		}
	}
	t.Fatalf("no KeyId in %s", out)
	return ""
}

// newestKeyID returns the key ID (32 hex digits) of the newest slot of the
// ciphertext file at p, or "" for an empty file.
func newestKeyID(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil || len(b) < envelope.HeaderSize {
		return ""
	}
	var best envelope.Slot
	for pos := range 2 {
		off := envelope.PreambleSize + pos*envelope.SlotSize
		if s, err := envelope.ParseSlot(b[off : off+envelope.SlotSize]); err == nil && s.Generation > best.Generation {
			best = s
		}
	}
	return fmt.Sprintf("%x", best.KeyRef.KeyID)
}
