package fs

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/kmsfs/kmsfs/envelope"
)

// flipByte inverts one byte of a CipherDir file.
func flipByte(t *testing.T, path string, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0xff
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

func TestCorruptChunk(t *testing.T) {
	for _, chunk := range []int{envelope.MinChunkSize, envelope.DefaultChunkSize} {
		t.Run(fmt.Sprintf("chunk=%d", chunk), func(t *testing.T) { testCorruptChunk(t, chunk) })
	}
}

func testCorruptChunk(t *testing.T, chunk int) {
	tm := newTestMount(t, func(o *Options) { o.ChunkSize = chunk })
	c := tm.chunk
	want := plaintext(3 * c)
	for _, name := range []string{"three", "other"} {
		if err := os.WriteFile(tm.path(name), want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tm.waitReleased(t)
	// Chunk 1 starts after the header and chunk 0.
	flipByte(t, tm.cpath(t, "three"), envelope.HeaderSize+int64(c+envelope.ChunkOverhead)+100)

	f, err := os.Open(tm.path("three"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, tc := range []struct {
		chunk int
		bad   bool
	}{{0, false}, {2, false}, {1, true}, {0, false}} {
		got := make([]byte, c)
		_, err := f.ReadAt(got, int64(tc.chunk*c))
		switch {
		case tc.bad && !errnoIs(err, syscall.EIO):
			t.Errorf("chunk %d: err %v, want EIO", tc.chunk, err)
		case !tc.bad && err != nil:
			t.Errorf("chunk %d: %v", tc.chunk, err)
		case !tc.bad && !bytes.Equal(got, want[tc.chunk*c:(tc.chunk+1)*c]):
			t.Errorf("chunk %d: wrong contents", tc.chunk)
		}
	}
	checkFile(t, tm, "other", want)
	logs := tm.logs.String()
	if !strings.Contains(logs, "path=/three") || !strings.Contains(logs, "chunk=1") {
		t.Errorf("log does not name the path and chunk:\n%s", logs)
	}
	if strings.Contains(logs, "kmsfs-plaintext-marker") {
		t.Errorf("log leaks plaintext")
	}
}

func TestCorruptHeader(t *testing.T) {
	for _, tc := range []struct {
		name string
		off  int64
	}{{"magic", 0}, {"file ID", 20}, {"slot A", envelope.PreambleSize + 10}, {"both slots", -1}} {
		t.Run(tc.name, func(t *testing.T) {
			tm := newTestMount(t)
			if err := os.WriteFile(tm.path("f"), plaintext(100), 0o644); err != nil {
				t.Fatal(err)
			}
			tm.waitReleased(t)
			if tc.off >= 0 {
				flipByte(t, tm.cpath(t, "f"), tc.off)
			} else {
				flipByte(t, tm.cpath(t, "f"), envelope.PreambleSize+10)
				flipByte(t, tm.cpath(t, "f"), envelope.PreambleSize+envelope.SlotSize+10)
			}
			_, err := os.ReadFile(tm.path("f"))
			if tc.name == "slot A" {
				// Slot B is the other copy of the header: reading may
				// survive one bad slot, but must never return garbage.
				if err != nil && !errnoIs(err, syscall.EIO) {
					t.Errorf("read: %v, want success or EIO", err)
				}
				return
			}
			if !errnoIs(err, syscall.EIO) {
				t.Errorf("read: %v, want EIO", err)
			}
			if !strings.Contains(tm.logs.String(), "path=/f") {
				t.Errorf("log does not name the path:\n%s", tm.logs.String())
			}
		})
	}
}

// TestForeignFile drops random bytes into CipherDir: reading gives EIO,
// listing and the other files still work, nothing panics.
func TestForeignFile(t *testing.T) {
	tm := newTestMount(t)
	for _, n := range []int{1, 100, envelope.HeaderSize + 5000} {
		junk := make([]byte, n)
		if _, err := rand.Read(junk); err != nil {
			t.Fatal(err)
		}
		name := "junk" + strings.Repeat("x", n%7)
		if err := os.WriteFile(tm.cpath(t, name), junk, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(tm.path(name)); err != nil {
			t.Errorf("stat %s: %v", name, err)
		}
		if _, err := os.ReadFile(tm.path(name)); !errnoIs(err, syscall.EIO) {
			t.Errorf("read %d random bytes: %v, want EIO", n, err)
		}
		if f, err := os.OpenFile(tm.path(name), os.O_WRONLY, 0); err == nil {
			if _, err := f.WriteAt([]byte("x"), 0); err == nil {
				t.Errorf("write into a foreign file succeeded")
			}
			f.Close()
		}
	}
	if err := os.WriteFile(tm.path("good"), []byte("fine"), 0o644); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(tm.mnt)
	if err != nil || len(ents) < 2 {
		t.Errorf("listing: %d entries, %v", len(ents), err)
	}
	if b, err := os.ReadFile(tm.path("good")); err != nil || string(b) != "fine" {
		t.Errorf("good file: %q, %v", b, err)
	}
}

// TestParallelChunkWriters has writers on separate descriptors fill
// separate chunks of one file at once (run with -race).
func TestParallelChunkWriters(t *testing.T) {
	tm := newTestMount(t)
	const writers, rounds = 8, 20
	c := tm.chunk
	want := make([]byte, writers*c)
	var wg sync.WaitGroup
	for w := range writers {
		f, err := os.OpenFile(tm.path("par"), os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		part := bytes.Repeat([]byte{byte('a' + w)}, c)
		copy(want[w*c:], part)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer f.Close()
			for range rounds {
				// Two halves per round: partial-chunk read-modify-writes.
				if _, err := f.WriteAt(part[:c/2], int64(w*c)); err != nil {
					t.Errorf("write: %v", err)
					return
				}
				if _, err := f.WriteAt(part[c/2:], int64(w*c+c/2)); err != nil {
					t.Errorf("write: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	checkFile(t, tm, "par", want)
	tm.noWarnings(t)
}

// TestKeyServiceRefuses: a key service that fails unwrapping makes opens
// of existing files fail, and creating new files fail, without panics.
func TestKeyServiceRefuses(t *testing.T) {
	tm := newTestMount(t)
	if err := os.WriteFile(tm.path("f"), []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	tm.waitReleased(t)
	tm.keys.SetFail(envelope.ErrUnauthenticated)
	if _, err := os.ReadFile(tm.path("f")); !errnoIs(err, syscall.EIO) {
		t.Errorf("read: %v, want EIO", err)
	}
	if err := os.WriteFile(tm.path("new"), []byte("x"), 0o644); !errnoIs(err, syscall.EIO) {
		t.Errorf("create: %v, want EIO", err)
	}
	if _, err := os.Stat(tm.path("new")); !os.IsNotExist(err) {
		t.Errorf("failed create left a file: %v", err)
	}
	tm.keys.SetFail(nil)
	if b, err := os.ReadFile(tm.path("f")); err != nil || string(b) != "data" {
		t.Errorf("read after recovery: %q, %v", b, err)
	}
}

// TestMutatedFiles damages real kmsfs files every which way (one flipped
// byte at many offsets, cut short, extended) and reads them through the
// mount: the result is the original contents or EIO, never other data,
// another errno or a panic (the test mount's panic handler fails the test).
func TestMutatedFiles(t *testing.T) {
	tm := newTestMount(t)
	c := tm.chunk
	for _, n := range []int{1, c + 1, 2*c + 7} {
		want := plaintext(n)
		orig := fmt.Sprintf("orig%d", n)
		if err := os.WriteFile(tm.path(orig), want, 0o644); err != nil {
			t.Fatal(err)
		}
		tm.waitReleased(t)
		ct, err := os.ReadFile(tm.cpath(t, orig))
		if err != nil {
			t.Fatal(err)
		}
		for i, bad := range mutations(ct) {
			name := fmt.Sprintf("m%d-%d", n, i)
			if err := os.WriteFile(tm.cpath(t, name), bad, 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(tm.path(name))
			switch {
			case err != nil && !errnoIs(err, syscall.EIO):
				t.Errorf("%s: %v, want contents or EIO", name, err)
			case err == nil && !bytes.Equal(got, want) && !bytes.Equal(got, want[:min(len(got), len(want))]):
				t.Errorf("%s: read %d bytes of other data", name, len(got))
			}
		}
	}
}

// mutations returns damaged copies of ct.
func mutations(ct []byte) [][]byte {
	var out [][]byte
	for off := 0; off < len(ct); off += 1 + off/3 {
		bad := append([]byte(nil), ct...)
		bad[off] ^= 0x01
		out = append(out, bad)
	}
	for _, cut := range []int{1, 16, 28, 29, len(ct) - envelope.HeaderSize, len(ct) - 1} {
		if cut > 0 && cut < len(ct) {
			out = append(out, append([]byte(nil), ct[:len(ct)-cut]...))
		}
	}
	return append(out, append(append([]byte(nil), ct...), make([]byte, 100)...))
}
