package maintain_test

import (
	"strings"
	"testing"
	"time"

	"github.com/kmsfs/kmsfs/internal/maintain"
	"github.com/kmsfs/kmsfs/internal/testutil"
)

func TestFormatProgress(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    maintain.Snapshot
		tty  bool
		want string
	}{
		{"start", maintain.Snapshot{}, false, "rewrap: 0/0+ files, 0.0 files/s, ETA ?"},
		{"counting", maintain.Snapshot{Done: 10, Found: 50, Elapsed: 2 * time.Second}, false,
			"rewrap: 10/50+ files, 5.0 files/s, ETA ?"},
		{"known", maintain.Snapshot{Done: 120, Found: 300, TotalKnown: true, Elapsed: 4 * time.Second}, false,
			"rewrap: 120/300 files (40%), 30.0 files/s, ETA 6s"},
		{"bytes", maintain.Snapshot{Done: 1, Found: 2, TotalKnown: true, Bytes: 50e6, Elapsed: 2 * time.Second}, false,
			"rewrap: 1/2 files (50%), 0.5 files/s, 25.0 MB/s, ETA 2s"},
		{"minutes", maintain.Snapshot{Done: 1, Found: 126, TotalKnown: true, Elapsed: time.Second}, false,
			"rewrap: 1/126 files (0%), 1.0 files/s, ETA 2m05s"},
		{"hours", maintain.Snapshot{Done: 1, Found: 3721, TotalKnown: true, Elapsed: time.Second}, false,
			"rewrap: 1/3721 files (0%), 1.0 files/s, ETA 1h02m"},
		{"done", maintain.Snapshot{Done: 300, Found: 300, TotalKnown: true, Elapsed: 10 * time.Second}, false,
			"rewrap: 300/300 files (100%), 30.0 files/s, ETA 0s"},
		{"tty", maintain.Snapshot{Done: 120, Found: 300, TotalKnown: true, Elapsed: 4 * time.Second}, true,
			"rewrap [#########...............] 120/300 files  30.0 files/s  ETA 6s"},
		{"tty full", maintain.Snapshot{Done: 3, Found: 3, TotalKnown: true, Bytes: 3e6, Elapsed: time.Second}, true,
			"rewrap [########################] 3/3 files  3.0 files/s  3.0 MB/s  ETA 0s"},
	} {
		if got := maintain.FormatProgress("rewrap", tc.s, tc.tty); got != tc.want {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, got, tc.want)
		}
	}
}

// TestProgressTerminal redraws in place and clears the bar before other
// output and at Stop.
func TestProgressTerminal(t *testing.T) {
	var buf testutil.SyncBuffer
	now := time.Unix(1000, 0)
	p := maintain.NewProgress(&buf, "fsck", maintain.ProgressOptions{Terminal: true, Interval: time.Hour, Now: func() time.Time { return now }})
	p.Found(4)
	p.WalkDone()
	p.Done(1)
	now = now.Add(time.Second)
	p.Update()
	var out testutil.SyncBuffer
	p.Print(&out, "a/b: damaged\n")
	p.Update()
	got := buf.String()
	want := "\r\x1b[Kfsck [######..................] 1/4 files  1.0 files/s  ETA 3s" + "\r\x1b[K" +
		"\r\x1b[Kfsck [######..................] 1/4 files  1.0 files/s  ETA 3s"
	if got != want {
		t.Errorf("terminal output\n%q\nwant\n%q", got, want)
	}
	if out.String() != "a/b: damaged\n" {
		t.Errorf("printed %q", out.String())
	}
}

// TestProgressPlainLines prints one line per interval, each complete.
func TestProgressPlainLines(t *testing.T) {
	var buf testutil.SyncBuffer
	p := maintain.NewProgress(&buf, "rewrap", maintain.ProgressOptions{Interval: 5 * time.Millisecond})
	p.Start()
	p.Found(2)
	// Wait for two ticks rather than sleeping a fixed time: a loaded
	// machine may delay the ticker well past its interval.
	deadline := time.Now().Add(5 * time.Second)
	for strings.Count(buf.String(), "\n") < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	p.Stop()
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) < 2 {
		t.Fatalf("got %d lines in 5s at a 5ms interval: %q", len(lines), buf.String())
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, "rewrap: 0/2+ files") {
			t.Errorf("line %q", l)
		}
	}
	n := len(buf.String())
	time.Sleep(20 * time.Millisecond)
	if len(buf.String()) != n {
		t.Error("progress kept writing after Stop")
	}
}
