package fs

import (
	"bytes"
	"os"
	"sync/atomic"
	"testing"
	"time"
)

// TestOpenAfterAnotherOpenCameAndWent: two first opens of one inode race,
// and the winner opens, writes and closes the file between the loser's
// stat of the backing file and its open-state insert. The loser must not
// take the stale size: its first write at 0 would then replace the header
// and every chunk written by the winner would stop authenticating.
func TestOpenAfterAnotherOpenCameAndWent(t *testing.T) {
	tm := newTestMount(t)
	if err := os.WriteFile(tm.path("f"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tm.waitReleased(t)
	winner := plaintext(3 * tm.chunk)
	var fired atomic.Bool
	winnerDone := make(chan error, 1)
	hook := func() {
		if !fired.CompareAndSwap(false, true) {
			return // the winner's own open
		}
		err := os.WriteFile(tm.path("f"), winner, 0o644)
		for deadline := time.Now().Add(10 * time.Second); err == nil; {
			tm.root.files.mu.Lock()
			n := len(tm.root.files.files)
			tm.root.files.mu.Unlock()
			if n == 0 {
				break
			}
			if time.Now().After(deadline) {
				err = os.ErrDeadlineExceeded
			}
			time.Sleep(time.Millisecond)
		}
		winnerDone <- err
	}
	testOnlyAfterOpenBacking.Store(&hook)
	defer testOnlyAfterOpenBacking.Store(nil)

	f, err := os.OpenFile(tm.path("f"), os.O_RDWR, 0) // the loser
	if err != nil {
		t.Fatal(err)
	}
	if err := <-winnerDone; err != nil {
		t.Fatalf("winner: %v", err)
	}
	if _, err := f.WriteAt([]byte("hello"), 0); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	want := append([]byte("hello"), winner[5:]...)
	if got, err := os.ReadFile(tm.path("f")); err != nil || !bytes.Equal(got, want) {
		t.Errorf("read back %d bytes (want %d), equal %v, %v", len(got), len(want), bytes.Equal(got, want), err)
	}
}
