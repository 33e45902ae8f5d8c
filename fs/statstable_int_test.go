package fs

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kmsfs/kmsfs/internal/testkms"
)

// TestLstatStableDuringRewrap: lstatStable (what lookups, READDIRPLUS
// entries and GETATTR without a handle use) of a closed file never sees the
// mtime of a header write made by a rewrap running beside it (which
// rewrites the header under a reservation, then restores the mtime).
func TestLstatStableDuringRewrap(t *testing.T) {
	vk := testkms.NewFixed()
	tm := newTestMount(t, func(o *Options) { o.Keys = vk })
	if err := os.WriteFile(tm.path("f"), plaintext(3*tm.chunk), 0o644); err != nil {
		t.Fatal(err)
	}
	tm.waitReleased(t)
	cpath := tm.cpath(t, "f")
	old := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	if err := os.Chtimes(cpath, old, old); err != nil {
		t.Fatal(err)
	}
	rel, _ := filepath.Rel(tm.cipher, cpath)
	rt := &Root{r: tm.root}

	var (
		stop       atomic.Bool
		wg         sync.WaitGroup
		rewraps    int
		rewrapErr  error
		stats, bad int
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer stop.Store(true)
		for deadline := time.Now().Add(700 * time.Millisecond); time.Now().Before(deadline); {
			vk.Rotate()
			if _, _, _, err := rt.RewrapFile(context.Background(), rel, vk); err != nil {
				rewrapErr = err
				return
			}
			rewraps++
			// A pause, as between real rewraps of one file: without one,
			// back-to-back rewraps can keep a stat retrying up to its
			// bound (maxStableTries), after which it is best effort.
			time.Sleep(100 * time.Microsecond)
		}
	}()
	for !stop.Load() {
		var st stat
		if err := tm.root.lstatStable(cpath, fileKey{}, &st); err != nil {
			t.Fatal(err)
		}
		stats++
		if st.Mtim.Sec != old.Unix() {
			bad++
		}
	}
	wg.Wait()
	if rewrapErr != nil {
		t.Fatal(rewrapErr)
	}
	if bad != 0 {
		t.Errorf("%d of %d stats during %d rewraps saw the header write's mtime", bad, stats, rewraps)
	}
	if rewraps < 10 || stats < 100 {
		t.Errorf("only %d rewraps and %d stats: the race was not exercised", rewraps, stats)
	}
}
