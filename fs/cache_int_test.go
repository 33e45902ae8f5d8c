package fs

import (
	"log/slog"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// requestLog mounts with go-fuse's request log in buf, so a test can
// count what reached the server.
func requestLog(buf *logBuf) mountOpt {
	return func(o *Options) {
		o.Debug = true
		o.Logger = slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
}

// requests counts the requests of opcode op received since mark (a
// length of buf's contents taken earlier).
func requests(buf *logBuf, mark int, op string) int {
	n := 0
	for _, l := range strings.Split(buf.String()[mark:], "\n") {
		if strings.Contains(l, "rx ") && strings.Contains(l, " "+op+" ") {
			n++
		}
	}
	return n
}

// TestKernelCaches checks that the kernel answers a repeated listing and
// stats of a known tree without asking the server, also after the 1 s
// that entries and attributes used to stay valid, and that every change
// made through the mount still shows at once.
func TestKernelCaches(t *testing.T) {
	buf := &logBuf{}
	tm := newTestMount(t, requestLog(buf))
	d := tm.path("d")
	if err := os.Mkdir(d, 0o755); err != nil {
		t.Fatal(err)
	}
	want := []string{"a", "b", "c"}
	for _, n := range want {
		if err := os.WriteFile(d+"/"+n, []byte(n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if got := listNames(t, d); !slices.Equal(got, want) {
		t.Fatalf("listing %v, want %v", got, want)
	}
	for _, n := range want {
		if _, err := os.Lstat(d + "/" + n); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(1500 * time.Millisecond)

	mark := len(buf.String())
	if got := listNames(t, d); !slices.Equal(got, want) {
		t.Fatalf("second listing %v, want %v", got, want)
	}
	for _, n := range want {
		fi, err := os.Lstat(d + "/" + n)
		if err != nil || fi.Size() != 1 {
			t.Fatalf("stat %s: %v, %v", n, fi, err)
		}
	}
	for _, op := range []string{"READDIR", "READDIRPLUS", "LOOKUP", "GETATTR"} {
		if n := requests(buf, mark, op); n != 0 {
			t.Errorf("repeated listing and stats sent %d %s requests, want 0 (kernel caches)", n, op)
		}
	}

	// Changes through the mount show at once.
	steps := []struct {
		do   func() error
		want []string
	}{
		{func() error { return os.WriteFile(d+"/e", nil, 0o644) }, []string{"a", "b", "c", "e"}},
		{func() error { return os.Remove(d + "/a") }, []string{"b", "c", "e"}},
		{func() error { return os.Rename(d+"/b", d+"/f") }, []string{"c", "e", "f"}},
		{func() error { return os.Rename(d+"/c", tm.path("c")) }, []string{"e", "f"}},
		{func() error { return os.Mkdir(d+"/g", 0o755) }, []string{"e", "f", "g"}},
		{func() error { return os.Link(d+"/e", d+"/h") }, []string{"e", "f", "g", "h"}},
		{func() error { return os.Symlink("e", d+"/i") }, []string{"e", "f", "g", "h", "i"}},
		{func() error { return os.Remove(d + "/g") }, []string{"e", "f", "h", "i"}},
	}
	for i, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if got := listNames(t, d); !slices.Equal(got, s.want) {
			t.Fatalf("step %d: listing %v, want %v", i, got, s.want)
		}
	}
	if err := os.WriteFile(d+"/e", []byte("longer"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"e", "h"} { // one inode, two names
		if fi, err := os.Lstat(d + "/" + n); err != nil || fi.Size() != 6 || fi.Sys() == nil {
			t.Fatalf("stat %s after writing through e: %v, %v", n, fi, err)
		}
	}
	if err := os.Remove(d + "/e"); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(d + "/h"); err != nil || nlink(fi) != 1 {
		t.Fatalf("stat h after removing e: nlink %d, %v; want 1", nlink(fi), err)
	}
}

func nlink(fi os.FileInfo) uint64 {
	if fi == nil {
		return 0
	}
	return uint64(fi.Sys().(*syscall.Stat_t).Nlink)
}
