package maintain

import (
	"context"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Outcome is what a [Task] did with one entry.
type Outcome int

const (
	// Current: nothing to do (already rewrapped, verified clean).
	Current Outcome = iota
	// Changed: the task changed the file (rewrapped, re-keyed).
	Changed
	// Skipped: not an entry this task handles (kmsfs metadata, special
	// files, strays for rewrap).
	Skipped
)

// A Task handles one entry. It reports bytes it read or wrote to m, for
// progress and throughput, and returns what it did. A non-nil error makes
// the entry a failure (the outcome is then ignored).
type Task func(ctx context.Context, e Entry, m *Meter) (Outcome, error)

// Meter counts the bytes a task moves; it is safe for concurrent use.
type Meter struct{ bytes atomic.Int64 }

// Add records n more bytes.
func (m *Meter) Add(n int64) { m.bytes.Add(n) }

// Load returns the bytes recorded so far.
func (m *Meter) Load() int64 { return m.bytes.Load() }

// DefaultJobs is the default number of files handled at once: two per
// CPU. A rewrap spends most of its time waiting (a header read, a keyring
// round trip, an fsync), so twice the CPUs keeps both the CPUs and the
// disk queue busy, and concurrent fsyncs share journal commits; an fsck
// is CPU-bound on large files (envelope.Verify already uses every CPU per
// file) and I/O-bound on small ones, where the second job per CPU hides
// the read latency. More jobs mostly add memory and contention.
func DefaultJobs() int { return 2 * runtime.GOMAXPROCS(0) }

// RewrapJobs is the default number of files a rewrap with [Local] (or a
// remote key service) handles at once. A rewrap of a small file is two
// 256-byte writes, two key operations and two syncs; with [Local] the
// syncs of concurrent files share one syncfs, and a remote key service
// answers in a network round trip, so the time goes to waiting, and more
// files in flight make each wait serve more of them.
func RewrapJobs() int { return max(64, DefaultJobs()) }

// MaxListedFailures bounds how many failures a [Summary] keeps with their
// paths; the count is always exact.
const MaxListedFailures = 1000

// Options configures [Run].
type Options struct {
	// Jobs is the number of entries handled at once; 0 means DefaultJobs.
	Jobs int
	// Progress, if set, is told about every entry found and finished.
	Progress *Progress
	// Names displays paths in failures; nil means PlainNames.
	Names Namer
	// OnFailure, if set, is called with each failure as it happens (for
	// reports printed while the run goes on). Calls are serialised.
	OnFailure func(Failure)
	// Retryable marks errors that may go away by themselves (a file open in
	// a mount): such entries are tried again after the walk, with growing
	// pauses, for up to RetryFor, before they count as failures.
	Retryable func(error) bool
	// RetryFor bounds the time spent retrying; 0 means 15 seconds.
	RetryFor time.Duration
}

// Failure is an entry that a task could not handle.
type Failure struct {
	Path string // as displayed by the run's Namer
	Err  error
}

// Summary is the result of a [Run].
type Summary struct {
	Scanned  int64 // entries handed to the task
	Changed  int64
	Current  int64
	Skipped  int64
	Failed   int64
	Failures []Failure // the first MaxListedFailures failures, in the order they happened
	Bytes    int64     // bytes the task reported through its Meter
	Elapsed  time.Duration
}

// Err returns nil if nothing failed, else an error wrapping the first
// failure's error, so that callers can map it to an exit code.
func (s *Summary) Err() error {
	if s.Failed == 0 {
		return nil
	}
	return &FailedError{Count: s.Failed, First: s.Failures[0]}
}

// FailedError reports that some entries of a run failed.
type FailedError struct {
	Count int64
	First Failure
}

func (e *FailedError) Error() string {
	return "maintain: " + strconv.FormatInt(e.Count, 10) + " file(s) failed; first: " + e.First.Path + ": " + e.First.Err.Error()
}

// Unwrap returns the first failure's error.
func (e *FailedError) Unwrap() error { return e.First.Err }

// Run walks root and calls task for every entry on opts.Jobs goroutines,
// then retries the retryable failures. It returns the summary and the error
// that stopped the walk, if any (ctx ended, root unreadable); failures of
// single entries are only in the summary.
func Run(ctx context.Context, root string, task Task, opts Options) (*Summary, error) {
	r := newRunner(task, opts)
	start := time.Now()
	if r.progress != nil {
		r.progress.Start()
		defer r.progress.Stop()
		countCtx, stopCount := context.WithCancel(ctx)
		defer stopCount()
		go countTree(countCtx, root, r.progress)
	}
	walkErr := r.runPass(ctx, func(out chan<- Entry) error {
		return Walk(ctx, root, func(e Entry) error {
			if r.progress != nil {
				r.progress.Found(1)
			}
			select {
			case out <- e:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	})
	if r.progress != nil {
		r.progress.WalkDone()
	}
	if err := r.retry(ctx); walkErr == nil {
		walkErr = err
	}
	r.sum.Elapsed = time.Since(start)
	return &r.sum, walkErr
}

// countTree counts the entries below root and tells p the total: the work
// walk moves at the pace of the jobs, so only a walk of its own learns the
// total early enough for an ETA. Directory listings are cheap next to the
// per-file work, and the second walk finds them cached.
func countTree(ctx context.Context, root string, p *Progress) {
	var n int64
	if Walk(ctx, root, func(Entry) error { n++; return nil }) == nil {
		p.SetTotal(n)
	}
}

// runner is the state of one Run.
type runner struct {
	task     Task
	jobs     int
	progress *Progress
	names    Namer
	opts     Options
	meter    Meter

	mu      sync.Mutex // guards sum's failures and retries
	sum     Summary
	retries []Entry
	retryFn func(error) bool
}

func newRunner(task Task, opts Options) *runner {
	r := &runner{task: task, jobs: opts.Jobs, progress: opts.Progress, names: opts.Names, opts: opts, retryFn: opts.Retryable}
	if r.jobs <= 0 {
		r.jobs = DefaultJobs()
	}
	if r.names == nil {
		r.names = PlainNames{}
	}
	if r.retryFn == nil {
		r.retryFn = func(error) bool { return false }
	}
	if r.opts.RetryFor <= 0 {
		r.opts.RetryFor = 15 * time.Second
	}
	return r
}

// runPass feeds the entries that produce sends to r.jobs workers.
func (r *runner) runPass(ctx context.Context, produce func(chan<- Entry) error) error {
	ch := make(chan Entry, r.jobs)
	var wg sync.WaitGroup
	for range r.jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for e := range ch {
				r.handle(ctx, e)
			}
		}()
	}
	err := produce(ch)
	close(ch)
	wg.Wait()
	return err
}

// handle runs the task on e and records the result.
func (r *runner) handle(ctx context.Context, e Entry) {
	var m Meter // this entry's bytes: other workers add to r.meter meanwhile
	out, err := Skipped, e.Err
	if err == nil {
		out, err = r.task(ctx, e, &m)
	}
	r.meter.Add(m.Load())
	if r.progress != nil {
		r.progress.Bytes(m.Load())
	}
	if err != nil && r.retryFn(err) && ctx.Err() == nil {
		r.mu.Lock()
		r.retries = append(r.retries, e)
		r.mu.Unlock()
		return
	}
	r.record(e, out, err)
}

// record counts one finished entry.
func (r *runner) record(e Entry, out Outcome, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sum.Scanned++
	r.sum.Bytes = r.meter.Load()
	switch {
	case err != nil:
		r.failLocked(Failure{Path: r.names.Display(e.Rel), Err: err})
	case out == Changed:
		r.sum.Changed++
	case out == Current:
		r.sum.Current++
	default:
		r.sum.Skipped++
	}
	if r.progress != nil {
		r.progress.Done(1)
	}
}

func (r *runner) failLocked(f Failure) {
	r.sum.Failed++
	if len(r.sum.Failures) < MaxListedFailures {
		r.sum.Failures = append(r.sum.Failures, f)
	}
	if r.opts.OnFailure != nil {
		r.opts.OnFailure(f)
	}
}

// takeRetries returns and forgets the entries waiting for a retry.
func (r *runner) takeRetries() []Entry {
	r.mu.Lock()
	defer r.mu.Unlock()
	es := r.retries
	r.retries = nil
	return es
}

// retry tries busy entries again with pauses doubling from 50 ms, until
// none is left or RetryFor has passed; the last try records whatever
// happens, busy or not.
func (r *runner) retry(ctx context.Context) error {
	deadline := time.Now().Add(r.opts.RetryFor)
	pause := 50 * time.Millisecond
	for {
		es := r.takeRetries()
		if len(es) == 0 {
			return nil
		}
		last := !time.Now().Add(pause).Before(deadline)
		if err := sleep(ctx, pause); err != nil {
			for _, e := range es {
				r.record(e, Skipped, err)
			}
			return err
		}
		if last {
			r.retryFn = func(error) bool { return false }
		}
		pause = min(2*pause, 2*time.Second)
		r.runPass(ctx, func(out chan<- Entry) error {
			for _, e := range es {
				out <- e
			}
			return nil
		})
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
