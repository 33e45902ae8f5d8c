package envelope_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/kmsfs/kmsfs/envelope"
	"github.com/kmsfs/kmsfs/internal/memfile"
)

// maxRequestAllocs bounds the heap allocations of one File.WriteAt or
// ReadAt of many chunks: the pipeline's run state, its closure and the
// helper goroutine, none of them per chunk.
const maxRequestAllocs = 6

// TestRequestAllocs checks that reads and writes of 1 MiB allocate a few
// objects per request, whatever the number of chunks: a chunk seal or
// open that allocates would cost 256 allocations per request at 4 KiB
// chunks (issue 10).
func TestRequestAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop items")
	}
	const size = 1 << 20
	for _, c := range []int{envelope.MinChunkSize, 16 << 10, envelope.DefaultChunkSize} {
		for _, workers := range []int{1, 2} {
			t.Run(fmt.Sprintf("chunk=%d,workers=%d", c, workers), func(t *testing.T) {
				f, err := envelope.CreateWith(context.Background(), &memfile.File{}, newKMS(t, 1), c, nil, workers)
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				p := pattern(size, "allocs")
				for _, tc := range []struct {
					name string
					op   func([]byte, int64) (int, error)
				}{{"WriteAt", f.WriteAt}, {"ReadAt", f.ReadAt}} {
					if _, err := tc.op(p, 0); err != nil { // the first write extends and warms the pools
						t.Fatal(err)
					}
					allocs := testing.AllocsPerRun(20, func() {
						if _, err := tc.op(p, 0); err != nil {
							t.Fatal(err)
						}
					})
					if allocs > maxRequestAllocs {
						t.Errorf("%s of %d bytes: %.1f allocations, want at most %d", tc.name, size, allocs, maxRequestAllocs)
					}
				}
			})
		}
	}
}
