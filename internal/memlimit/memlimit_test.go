package memlimit_test

import (
	"fmt"
	"math"
	"runtime/debug"
	"testing"

	"github.com/kmsfs/kmsfs/internal/memlimit"
)

const mib = 1 << 20

func TestLimit(t *testing.T) {
	const floor = 64 * mib
	for _, tc := range []struct {
		live uint64
		gogc int64
		want int64
	}{
		{0, 100, floor},                               // before the first collection
		{18 * mib, 100, floor},                        // the untar of the mount: the floor binds
		{floor / 3 * 2, 100, floor},                   // 1.5 × live = floor
		{floor/3*2 + 2, 100, (floor/3*2 + 2) * 3 / 2}, // just past it: 1.5 × live
		{1 << 30, 100, 1536 * mib},                    // a huge tree: 1.5 × live
		{1 << 30, 200, 2 << 30},                       // GOGC=200: live plus half of 2 × live
		{1 << 30, 50, 1280 * mib},                     // GOGC=50: live plus half of live / 2
		{1 << 30, 0, 1 << 30},                         // GOGC=0: live, as GOGC's own goal
		{1 << 30, -1, math.MaxInt64},                  // GOGC=off: no limit
		{math.MaxUint64, 100, math.MaxInt64},          // past MaxInt64: no limit
		{math.MaxInt64 / 3 * 2, 100, math.MaxInt64},   // 1.5 × live rounds past MaxInt64
	} {
		t.Run(fmt.Sprintf("live=%d,gogc=%d", tc.live, tc.gogc), func(t *testing.T) {
			if got := memlimit.Limit(tc.live, tc.gogc, floor); got != tc.want {
				t.Errorf("Limit = %d, want %d", got, tc.want)
			}
		})
	}
}

// TestStartLeavesUserChoice: a limit or GOGC=off chosen by the user stays
// as it is.
func TestStartLeavesUserChoice(t *testing.T) {
	for _, tc := range []struct {
		name      string
		env       string // GOMEMLIMIT, "" for unset
		limit     int64  // set before Start
		gcPercent int
	}{
		{"GOMEMLIMIT=off", "off", math.MaxInt64, 100},
		{"GOMEMLIMIT=1GiB", "1GiB", math.MaxInt64, 100}, // the environment alone
		{"limit set before", "", 1 << 30, 100},
		{"GOGC=off", "", math.MaxInt64, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.env != "" {
				t.Setenv("GOMEMLIMIT", tc.env)
			}
			prevLimit := debug.SetMemoryLimit(tc.limit)
			prevGC := debug.SetGCPercent(tc.gcPercent)
			t.Cleanup(func() {
				debug.SetMemoryLimit(prevLimit)
				debug.SetGCPercent(prevGC)
			})
			stop, started := memlimit.Start()
			defer stop()
			if started {
				t.Error("Start started")
			}
			if got := debug.SetMemoryLimit(-1); got != tc.limit {
				t.Errorf("limit = %d, want %d", got, tc.limit)
			}
		})
	}
}

// TestStartStop: Start sets a limit of at least Floor; stop puts back no
// limit.
func TestStartStop(t *testing.T) {
	if prev := debug.SetMemoryLimit(-1); prev != math.MaxInt64 {
		t.Skipf("a memory limit (%d) is set, maybe by GOMEMLIMIT", prev)
	}
	stop, started := memlimit.Start()
	if !started {
		stop()
		t.Fatal("Start did not start")
	}
	got := debug.SetMemoryLimit(-1)
	stop()
	if got < memlimit.Floor || got == math.MaxInt64 {
		t.Errorf("limit after Start = %d, want from %d on", got, memlimit.Floor)
	}
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Errorf("limit after stop = %d, want none", got)
	}
}
