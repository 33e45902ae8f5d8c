package maintain

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Progress reports how far a [Run] has got, on w (stderr): on a terminal
// as a bar redrawn in place, with files/s and an ETA; otherwise as a plain
// line every interval, which logs and CI output keep readable.
//
// A tree of millions of files is never listed in memory first: [Run]
// counts it in a second, cheap walk (SetTotal) beside the work, and until
// that ends lines show the count found so far with a "+".
type Progress struct {
	w        io.Writer
	label    string
	tty      bool
	interval time.Duration
	now      func() time.Time

	found, done, nbytes, total atomic.Int64
	walked                     atomic.Bool // the total is known

	mu      sync.Mutex // serialises output
	start   time.Time
	drawn   bool // a bar is on the terminal's last line
	stop    chan struct{}
	stopped chan struct{}
}

// ProgressOptions configures [NewProgress].
type ProgressOptions struct {
	// Terminal draws a bar in place (x/term.IsTerminal on w's descriptor).
	Terminal bool
	// Interval between updates; 0 means 200 ms on a terminal, 5 s
	// otherwise.
	Interval time.Duration
	// Now replaces time.Now, for tests.
	Now func() time.Time
}

// NewProgress returns a Progress that writes to w, naming the job label
// ("rewrap", "fsck").
func NewProgress(w io.Writer, label string, o ProgressOptions) *Progress {
	p := &Progress{w: w, label: label, tty: o.Terminal, interval: o.Interval, now: o.Now}
	if p.interval <= 0 {
		p.interval = 5 * time.Second
		if p.tty {
			p.interval = 200 * time.Millisecond
		}
	}
	if p.now == nil {
		p.now = time.Now
	}
	p.start = p.now()
	return p
}

// Found counts n more entries found by the walk.
func (p *Progress) Found(n int64) { p.found.Add(n) }

// WalkDone says the walk has ended: what it found is the total.
func (p *Progress) WalkDone() { p.SetTotal(p.found.Load()) }

// SetTotal says how many entries there are in all.
func (p *Progress) SetTotal(n int64) {
	p.total.Store(n)
	p.walked.Store(true)
}

// Done counts n more entries finished.
func (p *Progress) Done(n int64) { p.done.Add(n) }

// Bytes counts n more bytes moved.
func (p *Progress) Bytes(n int64) { p.nbytes.Add(n) }

// Start begins periodic updates until Stop.
func (p *Progress) Start() {
	p.mu.Lock()
	p.start = p.now()
	stop, stopped := make(chan struct{}), make(chan struct{})
	p.stop, p.stopped = stop, stopped
	p.mu.Unlock()
	go p.loop(stop, stopped)
}

func (p *Progress) loop(stop <-chan struct{}, stopped chan<- struct{}) {
	defer close(stopped)
	t := time.NewTicker(p.interval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			p.Update()
		case <-stop:
			return
		}
	}
}

// Stop ends the updates and clears the bar, so that the summary starts on
// a clean line.
func (p *Progress) Stop() {
	p.mu.Lock()
	stop, stopped := p.stop, p.stopped
	p.stop = nil
	p.mu.Unlock()
	if stop == nil {
		return
	}
	close(stop)
	<-stopped
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clearLocked()
}

// Update writes the current state once: redraws the bar, or prints a line.
func (p *Progress) Update() {
	p.mu.Lock()
	defer p.mu.Unlock()
	line := FormatProgress(p.label, p.Snapshot(), p.tty)
	if p.tty {
		fmt.Fprint(p.w, "\r\x1b[K"+line)
		p.drawn = true
		return
	}
	fmt.Fprintln(p.w, line)
}

// Print writes s (one or more whole lines) to out without garbling the
// bar: it clears the bar first; the next update redraws it.
func (p *Progress) Print(out io.Writer, s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clearLocked()
	io.WriteString(out, s)
}

func (p *Progress) clearLocked() {
	if p.drawn {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.drawn = false
	}
}

// Snapshot is the state of a run at one moment.
type Snapshot struct {
	Done, Found int64
	TotalKnown  bool // Found is the total
	Bytes       int64
	Elapsed     time.Duration
}

// Snapshot returns the current state. Once the total is known, Found is
// the total (or what the walk found, if the tree grew since it was counted).
func (p *Progress) Snapshot() Snapshot {
	s := Snapshot{
		Done: p.done.Load(), Found: p.found.Load(), TotalKnown: p.walked.Load(),
		Bytes: p.nbytes.Load(), Elapsed: p.now().Sub(p.start),
	}
	if s.TotalKnown {
		s.Found = max(s.Found, p.total.Load())
	}
	return s
}

// barWidth is the number of cells of the terminal bar.
const barWidth = 24

// FormatProgress renders s as one line: for a terminal a bar, otherwise
// plain text such as (throughput only once bytes were counted)
//
//	rewrap: 120/300 files (40%), 45.2 files/s, ETA 4s
//	fsck: 120/300+ files, 45.2 files/s, 12.5 MB/s, ETA ?
func FormatProgress(label string, s Snapshot, tty bool) string {
	rate := perSecond(float64(s.Done), s.Elapsed)
	total := fmt.Sprintf("%d/%d", s.Done, s.Found)
	if !s.TotalKnown {
		total += "+"
	}
	eta := "?"
	if s.TotalKnown && rate > 0 {
		eta = formatDuration(time.Duration(float64(s.Found-s.Done) / rate * float64(time.Second)))
	}
	var b strings.Builder
	if tty {
		fmt.Fprintf(&b, "%s %s %s files  %.1f files/s", label, bar(s), total, rate)
	} else {
		fmt.Fprintf(&b, "%s: %s files", label, total)
		if s.TotalKnown && s.Found > 0 {
			fmt.Fprintf(&b, " (%d%%)", s.Done*100/s.Found)
		}
		fmt.Fprintf(&b, ", %.1f files/s", rate)
	}
	sep := ", "
	if tty {
		sep = "  "
	}
	if s.Bytes > 0 {
		fmt.Fprintf(&b, "%s%.1f MB/s", sep, perSecond(float64(s.Bytes)/1e6, s.Elapsed))
	}
	fmt.Fprintf(&b, "%sETA %s", sep, eta)
	return b.String()
}

// bar draws the done fraction as [#####.....]; unknown totals fill up to
// the fraction of what has been found so far.
func bar(s Snapshot) string {
	n := 0
	if s.Found > 0 {
		n = int(s.Done * barWidth / s.Found)
	}
	return "[" + strings.Repeat("#", n) + strings.Repeat(".", barWidth-n) + "]"
}

func perSecond(n float64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return n / d.Seconds()
}

// formatDuration rounds d for people: 4s, 2m05s, 1h02m.
func formatDuration(d time.Duration) string {
	d = d.Round(time.Second)
	h, m, s := int(d/time.Hour), int(d%time.Hour/time.Minute), int(d%time.Minute/time.Second)
	switch {
	case h > 0:
		return fmt.Sprintf("%dh%02dm", h, m)
	case m > 0:
		return fmt.Sprintf("%dm%02ds", m, s)
	}
	return fmt.Sprintf("%ds", s)
}
