package chunker

import (
	"runtime"
	"testing"
)

// TestDefaultWorkers: a pipeline made with 0 workers seals on as many
// goroutines as GOMAXPROCS allows, but a GOMAXPROCS raised after the
// process started (as a mount's serving process does for its FUSE
// readers) does not add sealing goroutines; a lowered one is followed.
func TestDefaultWorkers(t *testing.T) {
	start := runtime.GOMAXPROCS(0)
	t.Cleanup(func() { runtime.GOMAXPROCS(start) })
	runtime.GOMAXPROCS(startProcs) // as the process started, whatever -cpu set
	if got := NewPipeline(0).Workers(); got != startProcs {
		t.Errorf("workers %d, want GOMAXPROCS %d", got, startProcs)
	}
	runtime.GOMAXPROCS(startProcs + 4)
	if got := NewPipeline(0).Workers(); got != startProcs {
		t.Errorf("after raising GOMAXPROCS to %d: workers %d, want %d", startProcs+4, got, startProcs)
	}
	if startProcs > 1 {
		runtime.GOMAXPROCS(1)
		if got := NewPipeline(0).Workers(); got != 1 {
			t.Errorf("after lowering GOMAXPROCS to 1: workers %d, want 1", got)
		}
	}
	if got := NewPipeline(3).Workers(); got != 3 {
		t.Errorf("NewPipeline(3): %d workers", got)
	}
}
