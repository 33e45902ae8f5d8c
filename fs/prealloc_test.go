package fs

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestPreallocateRange: a range that starts inside the backing file is
// reserved whole, also past the end (a grow that rewrites the partial
// last chunk must not run out of space half-way through it); a range that
// starts at the end is not reserved (an append overwrites nothing).
func TestPreallocateRange(t *testing.T) {
	const size = 10000
	for _, tc := range []struct {
		name    string
		off, n  int64
		reserve bool
		hole    bool // the file is one hole (truncated up), not written
	}{
		{"inside, past the end", size - 1000, 1 << 20, true, false},
		{"inside, a hole", 1000, 1 << 20, true, true},
		{"at the end", size, 1 << 20, false, false},
		{"past the end", size + 4096, 1 << 20, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "f")
			if err := os.WriteFile(p, make([]byte, size), 0o600); err != nil {
				t.Fatal(err)
			}
			if tc.hole {
				if err := os.Truncate(p, 0); err != nil {
					t.Fatal(err)
				}
				if err := os.Truncate(p, size); err != nil {
					t.Fatal(err)
				}
			}
			f, err := os.OpenFile(p, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			var st stat
			if err := fstatFd(int(f.Fd()), &st); err != nil {
				t.Fatal(err)
			}
			b := newBacking(f, true, &st)
			before := blocks(t, p)
			if err := b.Preallocate(tc.off, tc.n); err != nil {
				t.Fatal(err)
			}
			grew := blocks(t, p) > before+8 // more than the 4 KiB around the end
			if grew != tc.reserve {
				t.Errorf("Preallocate(%d, %d) on a %d-byte file: reserved %v, want %v", tc.off, tc.n, size, grew, tc.reserve)
			}
			if fi, err := os.Stat(p); err != nil || fi.Size() != size {
				t.Errorf("size %d after Preallocate, want %d (%v)", fi.Size(), size, err)
			}
		})
	}
}

// blocks returns the 512-byte blocks allocated to the file at p.
func blocks(t *testing.T, p string) int64 {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(p, &st); err != nil {
		t.Fatal(err)
	}
	return st.Blocks
}
