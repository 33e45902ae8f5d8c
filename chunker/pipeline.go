package chunker

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
)

// Pipeline runs per-chunk jobs on at most Workers goroutines. The zero
// value is not useful; use NewPipeline. A Pipeline holds no state between
// runs, so one value may serve many concurrent Run calls.
type Pipeline struct {
	workers int
}

// NewPipeline returns a Pipeline with the given number of workers; 0 or
// less means runtime.GOMAXPROCS(0), the number of CPUs that can seal
// chunks at once.
func NewPipeline(workers int) *Pipeline {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	return &Pipeline{workers: workers}
}

// Workers is the maximum number of goroutines a Run uses.
func (p *Pipeline) Workers() int { return p.workers }

// Run calls fn(k) for every k in [0, n), in parallel on up to Workers
// goroutines including the caller's. The first error (or ctx's error)
// stops further jobs from starting and is returned; jobs already running
// finish. Results are not ordered: each job writes its own part of the
// caller's buffers.
//
// A run of one job (the common small read or write) runs inline, so it
// costs no goroutine.
func (p *Pipeline) Run(ctx context.Context, n int, fn func(k int) error) error {
	if n <= 0 {
		return ctx.Err()
	}
	if n == 1 || p.workers <= 1 {
		return runSerial(ctx, n, fn)
	}
	r := &run{ctx: ctx, n: int64(n), fn: fn}
	helpers := min(p.workers, n) - 1
	r.wg.Add(helpers)
	for range helpers {
		go func() {
			defer r.wg.Done()
			r.work()
		}()
	}
	r.work()
	r.wg.Wait()
	if err := r.err.Load(); err != nil {
		return *err
	}
	return nil
}

func runSerial(ctx context.Context, n int, fn func(k int) error) error {
	for k := range n {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(k); err != nil {
			return err
		}
	}
	return nil
}

// run is the shared state of one parallel Run.
type run struct {
	ctx  context.Context
	n    int64
	fn   func(k int) error
	next atomic.Int64
	err  atomic.Pointer[error]
	wg   sync.WaitGroup
}

// work takes jobs until none are left or one has failed.
func (r *run) work() {
	for r.err.Load() == nil {
		k := r.next.Add(1) - 1
		if k >= r.n {
			return
		}
		err := r.ctx.Err()
		if err == nil {
			err = r.fn(int(k))
		}
		if err != nil {
			r.err.CompareAndSwap(nil, &err)
			return
		}
	}
}
