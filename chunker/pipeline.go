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

// startProcs is GOMAXPROCS when the process started: the runtime's
// default (the CPUs the process may use, within a cgroup CPU quota) or
// the user's GOMAXPROCS. A mount's serving process raises GOMAXPROCS
// later, for Ps that its FUSE readers hold while they wait for requests
// (internal/procs); those are not CPUs to seal chunks on.
var startProcs = runtime.GOMAXPROCS(0)

// DefaultWorkers is the number of workers of NewPipeline(0): GOMAXPROCS,
// but no more than it was when the process started.
func DefaultWorkers() int {
	return min(runtime.GOMAXPROCS(0), startProcs)
}

// NewPipeline returns a Pipeline with the given number of workers; 0 or
// less means DefaultWorkers, the CPUs that can seal chunks at once.
func NewPipeline(workers int) *Pipeline {
	if workers <= 0 {
		workers = DefaultWorkers()
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
	return p.RunGrouped(ctx, n, 1, fn)
}

// RunGrouped is Run with jobs handed out group at a time: a goroutine
// takes jobs [k, k+group) together, and a run of at most group jobs runs
// inline. Callers with many small jobs (small chunks) use it so that
// what a job costs to hand out, and a helper goroutine to wake, is paid
// per group and not per job (issue 10). A group below 1 counts as 1.
func (p *Pipeline) RunGrouped(ctx context.Context, n, group int, fn func(k int) error) error {
	if n <= 0 {
		return ctx.Err()
	}
	group = max(group, 1)
	tasks := (n + group - 1) / group
	if tasks == 1 || p.workers <= 1 {
		return runSerial(ctx, 0, n, fn)
	}
	r := &run{ctx: ctx, n: int64(n), group: int64(group), fn: fn}
	helpers := min(p.workers, tasks) - 1
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

// runSerial runs jobs [from, to) in order on the caller's goroutine.
func runSerial(ctx context.Context, from, to int, fn func(k int) error) error {
	for k := from; k < to; k++ {
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
	ctx      context.Context
	n, group int64
	fn       func(k int) error
	next     atomic.Int64
	err      atomic.Pointer[error]
	wg       sync.WaitGroup
}

// work takes groups of jobs until none are left or one has failed.
func (r *run) work() {
	for r.err.Load() == nil {
		k := r.next.Add(r.group) - r.group
		if k >= r.n {
			return
		}
		if err := runSerial(r.ctx, int(k), int(min(k+r.group, r.n)), r.fn); err != nil {
			r.fail(err)
			return
		}
	}
}

// fail records the run's first error. It takes its own copy of err, so
// that only a failing job allocates: storing the address of work's loop
// variable moved it to the heap, one allocation per job.
func (r *run) fail(err error) {
	r.err.CompareAndSwap(nil, &err)
}
