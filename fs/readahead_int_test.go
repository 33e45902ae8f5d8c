package fs

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestReadAhead checks that a mount gets the readahead window its
// options ask for, in the kernel's own view of the mount.
func TestReadAhead(t *testing.T) {
	for _, tc := range []struct {
		name      string
		readAhead int
		wantKiB   int // 0: anything but DefaultReadAhead
	}{
		{"default", 0, DefaultReadAhead >> 10},
		{"set", 256 << 10, 256},
		{"rounded down to KiB", 512<<10 + 100, 512},
		{"at least a page", 100, os.Getpagesize() >> 10},
		{"kernel's", -1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tm := newTestMount(t, func(o *Options) { o.ReadAhead = tc.readAhead })
			path, err := readAheadPath(tm.mnt)
			if err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			got, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil {
				t.Fatalf("%s: %q: %v", path, b, err)
			}
			switch {
			case tc.wantKiB == 0 && got == DefaultReadAhead>>10:
				t.Errorf("%s = %d KiB: want the kernel's default, not ours", path, got)
			case tc.wantKiB != 0 && got != tc.wantKiB:
				t.Errorf("%s = %d KiB, want %d", path, got, tc.wantKiB)
			}
			data := plaintext(3<<20 + 5)
			if err := os.WriteFile(tm.path("f"), data, 0o644); err != nil {
				t.Fatal(err)
			}
			if back, err := os.ReadFile(tm.path("f")); err != nil || string(back) != string(data) {
				t.Fatalf("read back %d bytes (want %d), %v", len(back), len(data), err)
			}
		})
	}
}
