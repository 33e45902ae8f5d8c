package fs

import (
	"bytes"
	"context"
	"os"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/kmsfs/kmsfs/envelope"
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
		if err == nil {
			err = tm.released()
		}
		winnerDone <- err
	}
	testOnlyAfterOpenBacking.Store(&hook)
	defer testOnlyAfterOpenBacking.Store(nil)

	f, err := os.OpenFile(tm.path("f"), os.O_RDWR, 0) // the loser
	if err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-winnerDone:
		if err != nil {
			t.Fatalf("winner: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the hook between the loser's open and its insert never ran")
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

// gatedUnwrap holds the first unwrap after armed is set until release is
// closed, telling entered when it starts waiting.
type gatedUnwrap struct {
	envelope.KeyService
	armed            *atomic.Bool
	entered, release chan struct{}
}

func (g gatedUnwrap) UnwrapKey(ctx context.Context, ref envelope.KeyRef, wrapped, aad []byte) ([]byte, error) {
	if g.armed.CompareAndSwap(true, false) {
		close(g.entered)
		<-g.release
	}
	return g.KeyService.UnwrapKey(ctx, ref, wrapped, aad)
}

// TestChmodDuringOpenNotLost: a chmod u+s through the mount while an open
// of the file waits for its data key must not be forgotten by the open
// state: the next write clears the bit, as for any write.
func TestChmodDuringOpenNotLost(t *testing.T) {
	g := gatedUnwrap{armed: new(atomic.Bool), entered: make(chan struct{}), release: make(chan struct{})}
	tm := newTestMount(t, func(o *Options) { g.KeyService = o.Keys; o.Keys = g })
	p := tm.path("f")
	if err := os.WriteFile(p, plaintext(100), 0o755); err != nil {
		t.Fatal(err)
	}
	tm.waitReleased(t)
	g.armed.Store(true)
	opened := make(chan error, 1)
	var f *os.File
	go func() {
		var err error
		f, err = os.OpenFile(p, os.O_WRONLY, 0)
		opened <- err
	}()
	select {
	case <-g.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the open never reached the gated key unwrap")
	}
	if err := os.Chmod(p, 0o755|os.ModeSetuid); err != nil {
		t.Fatal(err)
	}
	close(g.release)
	if err := <-opened; err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt([]byte("x"), 10); err != nil {
		t.Fatal(err)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(tm.cpath(t, "f"), &st); err != nil {
		t.Fatal(err)
	}
	if got := st.Mode & 0o7777; got != 0o755 {
		t.Errorf("backing mode %o after a write, want 755 (set-user-ID set during the open survived)", got)
	}
}
