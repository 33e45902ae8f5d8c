package memlimit

import (
	"math"
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

// TestFollowsLiveHeap: the limit rises with the live heap and falls back
// when it shrinks, after the collections that see it.
func TestFollowsLiveHeap(t *testing.T) {
	const mib = 1 << 20
	if prev := debug.SetMemoryLimit(-1); prev != math.MaxInt64 {
		t.Skipf("a memory limit (%d) is set, maybe by GOMEMLIMIT", prev)
	}
	stop, started := start(mib)
	defer stop()
	if !started {
		t.Fatal("start did not start")
	}
	const big = 128 * mib // 1.5 × big is above any live heap of this test without it
	ballast := make([]byte, big)
	runtime.GC()
	waitLimit(t, "with the ballast live", func(l int64) bool { return l >= big*3/2 })
	runtime.KeepAlive(ballast) // dead from here on
	runtime.GC()
	waitLimit(t, "after the ballast is freed", func(l int64) bool { return l < big*3/2 })
}

// waitLimit waits up to 10 s for the memory limit to satisfy ok.
func waitLimit(t *testing.T, when string, ok func(int64) bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		l := debug.SetMemoryLimit(-1)
		if ok(l) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("limit %s: %d MiB", when, l>>20)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
