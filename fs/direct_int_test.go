package fs

import (
	"bytes"
	"fmt"
	"os"
	"sync"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/kmsfs/kmsfs/envelope"
)

// directBuf returns n bytes of data aligned for O_DIRECT.
func directBuf(t testing.TB, data []byte) []byte {
	t.Helper()
	mem, err := unix.Mmap(-1, 0, len(data), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Munmap(mem) })
	copy(mem, data)
	return mem
}

// TestDirectWriteClearsSetuid: a write through an O_DIRECT handle, which
// the kernel leaves to the server (FOPEN_DIRECT_IO), clears set-user-ID,
// and set-group-ID when group execute is set, as a cached write does.
func TestDirectWriteClearsSetuid(t *testing.T) {
	tm := newTestMount(t)
	for _, tc := range []struct {
		mode, want uint32
	}{
		{0o4755, 0o755},
		{0o2755, 0o755},
		{0o6755, 0o755},
		{0o2644, 0o2644}, // set-group-ID without group execute stays
		{0o0755, 0o755},
	} {
		t.Run(fmt.Sprintf("mode=%o", tc.mode), func(t *testing.T) {
			p := tm.path(fmt.Sprintf("f%o", tc.mode))
			if err := os.WriteFile(p, plaintext(8192), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(p, os.FileMode(tc.mode&0o777)|unixMode(tc.mode)); err != nil {
				t.Fatal(err)
			}
			f, err := os.OpenFile(p, os.O_RDWR|syscall.O_DIRECT, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.WriteAt(directBuf(t, bytes.Repeat([]byte("d"), 4096)), 4096); err != nil {
				t.Fatal(err)
			}
			var st unix.Stat_t
			if err := unix.Stat(p, &st); err != nil {
				t.Fatal(err)
			}
			if got := st.Mode & 0o7777; got != tc.want {
				t.Errorf("mode after a direct write: %o, want %o", got, tc.want)
			}
			// Set again while open: the next direct write clears it again.
			if tc.want != tc.mode {
				if err := f.Chmod(os.FileMode(tc.mode&0o777) | unixMode(tc.mode)); err != nil {
					t.Fatal(err)
				}
				if _, err := f.WriteAt(directBuf(t, bytes.Repeat([]byte("e"), 4096)), 0); err != nil {
					t.Fatal(err)
				}
				if err := unix.Stat(p, &st); err != nil {
					t.Fatal(err)
				}
				if got := st.Mode & 0o7777; got != tc.want {
					t.Errorf("mode after chmod and a direct write: %o, want %o", got, tc.want)
				}
			}
		})
	}
}

// unixMode converts the set-ID bits of a numeric mode to os.FileMode.
func unixMode(m uint32) os.FileMode {
	var fm os.FileMode
	if m&0o4000 != 0 {
		fm |= os.ModeSetuid
	}
	if m&0o2000 != 0 {
		fm |= os.ModeSetgid
	}
	return fm
}

// TestDirectParallelWrites: O_DIRECT writers of one file run concurrently
// (FOPEN_PARALLEL_DIRECT_WRITES), several in one chunk; every block ends
// up with its last writer's data, as a buffered reader then sees it.
func TestDirectParallelWrites(t *testing.T) {
	tm := newTestMount(t, func(o *Options) { o.ChunkSize = envelope.DefaultChunkSize })
	const size, block, writers = 1 << 20, 4096, 4
	p := tm.path("par")
	if err := os.WriteFile(p, make([]byte, size), 0o644); err != nil {
		t.Fatal(err)
	}
	want := make([]byte, size)
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		data := bytes.Repeat([]byte{byte('a' + w)}, block)
		for b := w; b < size/block; b += writers {
			copy(want[b*block:], data)
		}
		buf := directBuf(t, data)
		wg.Add(1)
		go func() {
			defer wg.Done()
			f, err := os.OpenFile(p, os.O_WRONLY|syscall.O_DIRECT, 0)
			if err != nil {
				errs <- err
				return
			}
			defer f.Close()
			for b := w; b < size/block; b += writers {
				if _, err := f.WriteAt(buf, int64(b*block)); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	got, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("file content differs from what the direct writers wrote")
	}
	tm.noWarnings(t)
}

// TestDirectCoherent: a buffered reader sees what an O_DIRECT handle
// wrote after it had cached the old data, and an O_DIRECT reader sees
// buffered writes.
func TestDirectCoherent(t *testing.T) {
	tm := newTestMount(t)
	p := tm.path("coh")
	if err := os.WriteFile(p, bytes.Repeat([]byte("o"), 8192), 0o644); err != nil {
		t.Fatal(err)
	}
	cached, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer cached.Close()
	got := make([]byte, 8192)
	if _, err := cached.ReadAt(got, 0); err != nil {
		t.Fatal(err)
	}
	direct, err := os.OpenFile(p, os.O_RDWR|syscall.O_DIRECT, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer direct.Close()
	if _, err := direct.WriteAt(directBuf(t, bytes.Repeat([]byte("n"), 4096)), 4096); err != nil {
		t.Fatal(err)
	}
	if _, err := cached.ReadAt(got, 0); err != nil {
		t.Fatal(err)
	}
	if want := append(bytes.Repeat([]byte("o"), 4096), bytes.Repeat([]byte("n"), 4096)...); !bytes.Equal(got, want) {
		t.Error("a cached reader does not see a direct write")
	}
	w, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.WriteAt(bytes.Repeat([]byte("b"), 4096), 0); err != nil {
		t.Fatal(err)
	}
	buf := directBuf(t, make([]byte, 4096))
	if _, err := direct.ReadAt(buf, 0); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf, bytes.Repeat([]byte("b"), 4096)) {
		t.Error("a direct reader does not see a buffered write")
	}
}
