package memlimit

import (
	"context"
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// Floor is the lowest limit [Limit] returns. It is the target
// of 100 MiB RSS less what the limit does not cover: ~25 MiB of mapped
// files (the binary, Badger's tables) and a few MiB of C library and
// thread stacks, with a margin. A mount's live heap is 10–40 MiB in the
// bench steps, so the floor leaves its heap about 20 MiB or more to grow
// between collections.
const Floor = 64 << 20

// Limit returns the soft memory limit for a live heap of live bytes under
// a GOGC of gogc percent: floor, or the live heap plus half the growth
// GOGC allows it (live × (1 + gogc/200)) if that is larger. A negative
// gogc (GOGC=off) or a limit past math.MaxInt64 gives math.MaxInt64, which
// is no limit.
func Limit(live uint64, gogc int64, floor int64) int64 {
	if gogc < 0 {
		return math.MaxInt64
	}
	l := float64(live) * (1 + float64(gogc)/200)
	if l >= math.MaxInt64 {
		return math.MaxInt64
	}
	return max(floor, int64(l))
}

// Start keeps the process's soft memory limit at [Limit] of its live heap
// until stop is called, updating it after every collection (the live heap
// changes only then); stop puts back the limit found at start. With a
// limit the user chose (GOMEMLIMIT set, also to "off", or a limit set
// before Start) or with GOGC=off, Start changes nothing and reports false.
// Only one may run in a process at a time.
func Start() (stop func(), started bool) {
	return start(Floor)
}

func start(floor int64) (func(), bool) {
	if _, ok := os.LookupEnv("GOMEMLIMIT"); ok {
		return func() {}, false
	}
	prev := debug.SetMemoryLimit(-1)
	if prev != math.MaxInt64 || gcPercent() < 0 {
		return func() {}, false
	}
	set := update(floor, prev)
	ctx, cancel := context.WithCancel(context.Background())
	collected := make(chan struct{}, 1)
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			notifyNextGC(collected)
			select {
			case <-ctx.Done():
				return
			case <-collected:
				set = update(floor, set)
			}
		}
	})
	return func() {
		cancel()
		wg.Wait()
		debug.SetMemoryLimit(prev)
	}, true
}

// notifyNextGC sends on c (without waiting) once a collection has ended,
// through the cleanup of an object only it ever referred to. A sampling
// ticker would wake an idle mount for nothing, or lag: with one of a
// second, a 64 MiB passphrase KDF (keyring export and import through the
// socket) ran over the limit for the whole interval: an export took
// 1.5–1.9 s of the mount's CPU, against 1.2–1.3 s with this and 1.0–1.4 s
// with no limit.
func notifyNextGC(c chan<- struct{}) {
	// A pointer field keeps it out of the tiny allocator, whose blocks
	// may hold other objects and live on with them.
	type marker struct{ _ *int }
	runtime.AddCleanup(new(marker), func(c chan<- struct{}) {
		select {
		case c <- struct{}{}:
		default:
		}
	}, c)
}

// update sets the limit for the live heap of the last collection, unless
// it is set already, and returns it.
func update(floor, set int64) int64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	l := Limit(s[0].Value.Uint64(), int64(s[1].Value.Uint64()), floor)
	if l != set {
		debug.SetMemoryLimit(l)
	}
	return l
}

// gcPercent is the GOGC in force, negative when it is off.
func gcPercent() int64 {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return int64(s[0].Value.Uint64())
}
