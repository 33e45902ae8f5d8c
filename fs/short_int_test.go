package fs

import (
	"bytes"
	"io"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/kmsfs/kmsfs/envelope"
)

// TestShortFileReads: a file cut below its committed size (FORMAT.md §8)
// reads up to the data present, but the read that reaches its end fails
// with EIO rather than a clean end of file, logged once with its path.
func TestShortFileReads(t *testing.T) {
	for _, m := range nameModes {
		t.Run(m.name, func(t *testing.T) {
			tm := newTestMount(t, m.opt)
			want := plaintext(3 * tm.chunk)
			if err := os.WriteFile(tm.path("f"), want, 0o644); err != nil {
				t.Fatal(err)
			}
			tm.waitReleased(t)
			cut := envelope.CiphertextSize(2*int64(tm.chunk), tm.chunk)
			if err := os.Truncate(tm.cpath(t, "f"), cut); err != nil {
				t.Fatal(err)
			}
			tm2 := tm.remount(t) // cold caches: the kernel learns the new size
			f, err := os.Open(tm2.path("f"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			buf := make([]byte, tm.chunk)
			for i := range 2 {
				off := int64(i * tm.chunk)
				if _, err := f.ReadAt(buf, off); err != nil || !bytes.Equal(buf, want[off:off+int64(tm.chunk)]) {
					t.Errorf("chunk %d: %v (equal %v)", i, err, bytes.Equal(buf, want[off:off+int64(tm.chunk)]))
				}
			}
			for range 2 {
				if _, err := f.Seek(0, io.SeekStart); err != nil {
					t.Fatal(err)
				}
				if got, err := io.ReadAll(f); !errnoIs(err, syscall.EIO) {
					t.Errorf("read to the end: %d bytes, %v; want EIO", len(got), err)
				}
			}
			logs := tm2.logs.String()
			if n := strings.Count(logs, "shorter than its committed size"); n != 1 || !strings.Contains(logs, "path=/f") && !strings.Contains(logs, "path=f") {
				t.Errorf("want one warning naming the plaintext path, got:\n%s", logs)
			}
		})
	}
}
