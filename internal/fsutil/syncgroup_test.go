package fsutil

import (
	"errors"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestSyncGroupNeverSharesAnEarlierRound checks group commit's one rule:
// a caller that arrives while a round is running waits for the next round,
// because the running one may have started before its writes.
func TestSyncGroupNeverSharesAnEarlierRound(t *testing.T) {
	g, err := NewSyncGroup(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	release := make(chan struct{})
	entered := make(chan int, 10)
	var rounds atomic.Int32
	g.syncfs = func(int) error {
		n := int(rounds.Add(1))
		entered <- n
		if n == 1 {
			<-release
		}
		return nil
	}

	first := make(chan error, 1)
	go func() { first <- g.Sync() }()
	if n := <-entered; n != 1 {
		t.Fatalf("first caller ran round %d", n)
	}
	// Round 1 is running. Later callers must not be satisfied by it.
	const late = 8
	var wg sync.WaitGroup
	lateDone := make(chan error, late)
	for range late {
		wg.Go(func() { lateDone <- g.Sync() })
	}
	waitFor(t, func() bool { g.mu.Lock(); defer g.mu.Unlock(); return g.waiting == late })
	close(release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(lateDone)
	for err := range lateDone {
		if err != nil {
			t.Fatal(err)
		}
	}
	// The late callers all waited during round 1, so a second round must
	// have run for them, and they shared it.
	if n := rounds.Load(); n != 2 {
		t.Fatalf("%d rounds for 1 + %d callers", n, late)
	}
}

// TestSyncGroupFailure checks that a failed syncfs fails the callers of
// its round with the error, and that a later round succeeds again.
func TestSyncGroupFailure(t *testing.T) {
	g, err := NewSyncGroup(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	fail := true
	g.syncfs = func(int) error {
		if fail {
			return syscall.EIO
		}
		return nil
	}
	if err := g.Sync(); !errors.Is(err, syscall.EIO) {
		t.Fatalf("sync with a failing syncfs = %v, want EIO", err)
	}
	fail = false
	if err := g.Sync(); err != nil {
		t.Fatalf("sync after the failure = %v", err)
	}
}

// TestSyncGroupRealSyncfs runs the real syscall on a temporary directory,
// from many goroutines, for the race detector.
func TestSyncGroupRealSyncfs(t *testing.T) {
	g, err := NewSyncGroup(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Go(func() { errs <- g.Sync() })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for range 5000 {
		if cond() {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatal("condition not met")
}
