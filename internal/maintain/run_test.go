package maintain_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kmsfs/kmsfs/internal/maintain"
	"github.com/kmsfs/kmsfs/internal/testutil"
)

// makeTree creates empty files named by names under a fresh directory.
func makeTree(t *testing.T, names []string) string {
	t.Helper()
	dir := t.TempDir()
	for _, n := range names {
		p := filepath.Join(dir, n)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

var errTest = errors.New("test failure")

// outcomeTask decides by the file name's prefix: "chg" changed, "cur"
// current, "bad" failed; every call adds 10 bytes.
func outcomeTask(calls *atomic.Int64) maintain.Task {
	return func(_ context.Context, e maintain.Entry, m *maintain.Meter) (maintain.Outcome, error) {
		calls.Add(1)
		m.Add(10)
		if e.Kind != maintain.KindFile {
			return maintain.Skipped, nil
		}
		switch base := filepath.Base(e.Rel); {
		case strings.HasPrefix(base, "chg"):
			return maintain.Changed, nil
		case strings.HasPrefix(base, "bad"):
			return maintain.Skipped, fmt.Errorf("%s: %w", base, errTest)
		}
		return maintain.Current, nil
	}
}

// TestRunSummary counts every outcome exactly, whatever the number of
// jobs (run with -race: the counters are shared by the workers).
func TestRunSummary(t *testing.T) {
	var names []string
	for i := range 40 {
		names = append(names, fmt.Sprintf("d%d/chg%d", i%3, i), fmt.Sprintf("cur%d", i))
	}
	for i := range 5 {
		names = append(names, fmt.Sprintf("d%d/bad%d", i, i))
	}
	names = append(names, "kmsfs.conf", "kmsfs.conf.tmp")
	dir := makeTree(t, names)
	for _, jobs := range []int{1, 2, 7, 64} {
		t.Run(fmt.Sprintf("jobs=%d", jobs), func(t *testing.T) {
			var calls atomic.Int64
			var mu sync.Mutex
			var reported []string
			s, err := maintain.Run(context.Background(), dir, outcomeTask(&calls), maintain.Options{
				Jobs: jobs,
				OnFailure: func(f maintain.Failure) {
					mu.Lock()
					defer mu.Unlock()
					reported = append(reported, f.Path)
				},
			})
			if err != nil {
				t.Fatal(err)
			}
			want := maintain.Summary{Scanned: 87, Changed: 40, Current: 40, Skipped: 2, Failed: 5, Bytes: 870}
			if s.Scanned != want.Scanned || s.Changed != want.Changed || s.Current != want.Current ||
				s.Skipped != want.Skipped || s.Failed != want.Failed || s.Bytes != want.Bytes {
				t.Errorf("summary %+v, want %+v", *s, want)
			}
			if calls.Load() != 87 {
				t.Errorf("task called %d times, want 87", calls.Load())
			}
			if len(s.Failures) != 5 || len(reported) != 5 {
				t.Fatalf("failures %v, reported %v; want 5 each", s.Failures, reported)
			}
			for _, f := range s.Failures {
				if !strings.Contains(f.Path, "/bad") || !errors.Is(f.Err, errTest) {
					t.Errorf("failure %q: %v", f.Path, f.Err)
				}
			}
			if err := s.Err(); !errors.Is(err, errTest) || !strings.Contains(err.Error(), "5 file(s) failed") {
				t.Errorf("Summary.Err() = %v", err)
			}
		})
	}
}

// TestRunNames shows failures through the run's Namer.
func TestRunNames(t *testing.T) {
	dir := makeTree(t, []string{"x/bad"})
	var calls atomic.Int64
	s, err := maintain.Run(context.Background(), dir, outcomeTask(&calls), maintain.Options{Names: upperNames{}})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Failures) != 1 || s.Failures[0].Path != "X/BAD" {
		t.Errorf("failures %v, want X/BAD", s.Failures)
	}
	if s.Err() == nil || (&maintain.Summary{}).Err() != nil {
		t.Error("Summary.Err must be nil exactly when nothing failed")
	}
}

type upperNames struct{}

func (upperNames) Display(rel string) string { return strings.ToUpper(rel) }

// TestRunFailureCap keeps at most MaxListedFailures paths but counts all.
func TestRunFailureCap(t *testing.T) {
	n := maintain.MaxListedFailures + 3
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("bad%05d", i)
	}
	var calls atomic.Int64
	s, err := maintain.Run(context.Background(), makeTree(t, names), outcomeTask(&calls), maintain.Options{Jobs: 4})
	if err != nil {
		t.Fatal(err)
	}
	if s.Failed != int64(n) || len(s.Failures) != maintain.MaxListedFailures {
		t.Errorf("failed %d with %d listed, want %d with %d", s.Failed, len(s.Failures), n, maintain.MaxListedFailures)
	}
}

// TestRunRetry retries busy entries until they succeed, and records them
// as failed with the busy error once RetryFor has passed.
func TestRunRetry(t *testing.T) {
	for _, tc := range []struct {
		name     string
		busyFor  int64 // calls per file that answer busy
		retryFor time.Duration
		failed   int64
		current  int64
	}{
		{"never busy", 0, time.Second, 0, 3},
		{"busy twice", 2, 5 * time.Second, 0, 3},
		{"always busy", 1 << 40, 300 * time.Millisecond, 3, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := makeTree(t, []string{"a", "b", "c"})
			var mu sync.Mutex
			calls := map[string]int64{}
			task := func(_ context.Context, e maintain.Entry, _ *maintain.Meter) (maintain.Outcome, error) {
				mu.Lock()
				defer mu.Unlock()
				calls[e.Rel]++
				if calls[e.Rel] <= tc.busyFor {
					return maintain.Skipped, maintain.ErrBusy
				}
				return maintain.Current, nil
			}
			start := time.Now()
			s, err := maintain.Run(context.Background(), dir, task, maintain.Options{
				Jobs: 2, RetryFor: tc.retryFor, Retryable: func(err error) bool { return errors.Is(err, maintain.ErrBusy) },
			})
			if err != nil {
				t.Fatal(err)
			}
			if s.Failed != tc.failed || s.Current != tc.current || s.Scanned != 3 {
				t.Errorf("summary %+v, want %d failed, %d current of 3", *s, tc.failed, tc.current)
			}
			for _, f := range s.Failures {
				if !errors.Is(f.Err, maintain.ErrBusy) {
					t.Errorf("failure %v, want ErrBusy", f)
				}
			}
			if el := time.Since(start); el > tc.retryFor+3*time.Second {
				t.Errorf("took %v, RetryFor is %v", el, tc.retryFor)
			}
		})
	}
}

// TestRunCancel stops the walk when the context ends and reports it.
func TestRunCancel(t *testing.T) {
	names := make([]string, 200)
	for i := range names {
		names[i] = fmt.Sprintf("f%03d", i)
	}
	dir := makeTree(t, names)
	ctx, cancel := context.WithCancel(context.Background())
	var n atomic.Int64
	task := func(context.Context, maintain.Entry, *maintain.Meter) (maintain.Outcome, error) {
		if n.Add(1) == 10 {
			cancel()
		}
		return maintain.Current, nil
	}
	s, err := maintain.Run(ctx, dir, task, maintain.Options{Jobs: 2})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run after cancel: %v", err)
	}
	if s.Scanned >= 200 {
		t.Errorf("scanned %d of 200 entries after cancelling at 10", s.Scanned)
	}
}

// TestRunProgress feeds the progress: found and done match the tree, and
// non-terminal output is whole plain lines.
func TestRunProgress(t *testing.T) {
	dir := makeTree(t, []string{"chg1", "chg2", "cur1", "bad1"})
	var buf testutil.SyncBuffer
	p := maintain.NewProgress(&buf, "test", maintain.ProgressOptions{Interval: time.Millisecond})
	var calls atomic.Int64
	slow := func(ctx context.Context, e maintain.Entry, m *maintain.Meter) (maintain.Outcome, error) {
		time.Sleep(5 * time.Millisecond)
		return outcomeTask(&calls)(ctx, e, m)
	}
	if _, err := maintain.Run(context.Background(), dir, slow, maintain.Options{Jobs: 1, Progress: p}); err != nil {
		t.Fatal(err)
	}
	snap := p.Snapshot()
	if snap.Found != 4 || snap.Done != 4 || !snap.TotalKnown || snap.Bytes != 40 {
		t.Errorf("progress snapshot %+v, want 4 found and done, 40 bytes", snap)
	}
	out := buf.String()
	if !strings.HasPrefix(out, "test: ") || !strings.HasSuffix(out, "\n") || strings.Contains(out, "\r") {
		t.Errorf("non-terminal progress output %q: want plain lines", out)
	}
}

// TestRunBytes counts each entry's bytes once, however many workers
// report at the same time.
func TestRunBytes(t *testing.T) {
	names := make([]string, 64)
	for i := range names {
		names[i] = fmt.Sprintf("f%02d", i)
	}
	dir := makeTree(t, names)
	p := maintain.NewProgress(io.Discard, "t", maintain.ProgressOptions{Interval: time.Hour})
	task := func(_ context.Context, _ maintain.Entry, m *maintain.Meter) (maintain.Outcome, error) {
		for range 100 {
			m.Add(1)
			time.Sleep(10 * time.Microsecond)
		}
		return maintain.Current, nil
	}
	s, err := maintain.Run(context.Background(), dir, task, maintain.Options{Jobs: 8, Progress: p})
	if err != nil {
		t.Fatal(err)
	}
	if s.Bytes != 6400 || p.Snapshot().Bytes != 6400 {
		t.Errorf("bytes: summary %d, progress %d; want 6400", s.Bytes, p.Snapshot().Bytes)
	}
}
