package bench

import (
	"cmp"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/kmsfs/kmsfs/envelope"
)

var (
	// ErrNoMatch is returned by Select when the filter matches no suite.
	ErrNoMatch = errors.New("bench: no benchmark matches the filter")
	// ErrFailed is returned by Run when a suite failed (called b.Fatal).
	// testing.Benchmark discards the reason; `go test -bench` shows it.
	ErrFailed = errors.New("bench: benchmark failed")
)

// Result is the measurement of one suite.
type Result struct {
	Name        string  `json:"name"`
	Iterations  int     `json:"iterations"`
	NsPerOp     float64 `json:"ns_per_op"`
	MBPerSec    float64 `json:"mb_per_s"` // 10^6 bytes per second, as `go test -bench`
	AllocsPerOp int64   `json:"allocs_per_op"`
	BytesPerOp  int64   `json:"alloc_bytes_per_op"`
	// Baseline names the raw AES-GCM suite this one is compared with, and
	// Ratio is MBPerSec over the baseline's MBPerSec in the same run. Both
	// are empty for the baselines themselves.
	Baseline string  `json:"baseline,omitempty"`
	Ratio    float64 `json:"ratio,omitempty"`
	// Rounds is how many times the suite ran; Spread is the range of its
	// throughput over those rounds as a fraction of MBPerSec: a noise
	// gauge (0.30 means the fastest round was 30% above the slowest).
	Rounds int     `json:"rounds"`
	Spread float64 `json:"spread,omitempty"`
	Failed bool    `json:"failed,omitempty"`
}

// BaselineOf returns the name of the raw AES-GCM suite whose throughput
// the suite called name is compared with, or "" when it has none (it is a
// baseline itself, or unknown).
//
// Per-chunk suites compare with GCM on the same chunk size; File and
// Stream suites use envelope.DefaultChunkSize chunks, so they compare with
// GCM on one such chunk: the ratio is then what the envelope's locking,
// copies, headers and pipeline cost or gain over sealing chunk by chunk.
func BaselineOf(name string) string {
	def := sizeName(envelope.DefaultChunkSize)
	for _, m := range []struct{ prefix, baseline string }{
		{"Envelope/SealChunk/", "GCM/Seal/"},
		{"Envelope/OpenChunk/", "GCM/Open/"},
		{"File/WriteAt/", "GCM/Seal/" + def},
		{"Stream/Writer/", "GCM/Seal/" + def},
		{"File/ReadAt/", "GCM/Open/" + def},
		{"Stream/Reader/", "GCM/Open/" + def},
		{"Verify/", "GCM/OpenParallel/" + def},
	} {
		if rest, ok := strings.CutPrefix(name, m.prefix); ok {
			if strings.HasSuffix(m.baseline, "/") {
				return m.baseline + rest
			}
			return m.baseline
		}
	}
	return ""
}

// sizeName is the suite-name spelling of a chunk size ("64K").
func sizeName(n int) string {
	for _, c := range chunkSizes {
		if c.size == n {
			return c.name
		}
	}
	return fmt.Sprintf("%dK", n>>10)
}

// Select returns the suites whose names match filter (nil matches all),
// plus the baselines they are compared with even when the filter excludes
// them, so that every ratio is measured in the same run. Order is that of
// suites, where each baseline precedes the suites compared with it.
func Select(suites []Suite, filter *regexp.Regexp) ([]Suite, error) {
	want := map[string]bool{}
	for _, s := range suites {
		if filter == nil || filter.MatchString(s.Name) {
			want[s.Name] = true
			if b := BaselineOf(s.Name); b != "" {
				want[b] = true
			}
		}
	}
	if len(want) == 0 {
		return nil, fmt.Errorf("%w %q", ErrNoMatch, filter)
	}
	var out []Suite
	for _, s := range suites {
		if want[s.Name] {
			out = append(out, s)
		}
	}
	return out, nil
}

// Run runs suites through testing.Benchmark, each for the default
// benchmark time (1 s), in count rounds (at least one) of every suite in
// turn: on a shared machine load comes and goes, so each suite is measured
// count times, each time next to its baseline. A suite's Result is its
// median round by ns/op, with Ratio the median of its per-round ratios
// and Spread the range of its rounds' throughput.
//
// report, if not nil, is called for each suite during the last round, so
// that a long run shows progress. A failed suite is reported with Failed
// set; Run then continues and finally returns ErrFailed naming it.
func Run(suites []Suite, count int, report func(Result)) ([]Result, error) {
	n := max(count, 1)
	rounds := make([][]Result, len(suites)) // rounds[i][k]: suite i in round k
	for k := range n {
		round := make([]Result, len(suites))
		for i, s := range suites {
			round[i] = measure(s)
			fillRatios(round[:i+1])
			rounds[i] = append(rounds[i], round[i])
			if k == n-1 && report != nil {
				report(summarize(rounds[i]))
			}
		}
		fillRatios(round)
		for i := range suites {
			rounds[i][k] = round[i]
		}
	}
	results := make([]Result, len(suites))
	var failed []string
	for i, s := range suites {
		results[i] = summarize(rounds[i])
		if results[i].Failed {
			failed = append(failed, s.Name)
		}
	}
	if len(failed) > 0 {
		return results, fmt.Errorf("%w: %s", ErrFailed, strings.Join(failed, ", "))
	}
	return results, nil
}

// summarize turns the rounds of one suite into its Result: failed if any
// round failed, else the median round with the median ratio.
func summarize(rs []Result) Result {
	for _, r := range rs {
		if r.Failed {
			return r
		}
	}
	byTime := slices.Clone(rs)
	slices.SortFunc(byTime, func(x, y Result) int { return cmp.Compare(x.NsPerOp, y.NsPerOp) })
	out := byTime[(len(byTime)-1)/2]
	out.Rounds = len(rs)
	out.Ratio = median(rs, func(r Result) float64 { return r.Ratio })
	if m := out.MBPerSec; m > 0 && len(rs) > 1 {
		// byTime is sorted by time, so by throughput in reverse.
		out.Spread = (byTime[0].MBPerSec - byTime[len(byTime)-1].MBPerSec) / m
	}
	return out
}

// median returns the median of f over rs (the lower middle for an even
// count).
func median(rs []Result, f func(Result) float64) float64 {
	v := make([]float64, len(rs))
	for i, r := range rs {
		v[i] = f(r)
	}
	slices.Sort(v)
	return v[(len(v)-1)/2]
}

// measure runs one suite. testing.Benchmark returns a zero result when the
// body failed: all our bodies use b.Loop, which runs in one call, so a
// failure never leaves a partial result behind.
func measure(s Suite) Result {
	br := testing.Benchmark(s.F)
	r := Result{Name: s.Name, Baseline: BaselineOf(s.Name)}
	if br.N == 0 {
		r.Failed = true
		return r
	}
	r.Iterations = br.N
	r.NsPerOp = float64(br.T.Nanoseconds()) / float64(br.N)
	if br.Bytes > 0 && br.T > 0 {
		r.MBPerSec = float64(br.Bytes) * float64(br.N) / 1e6 / br.T.Seconds()
	}
	r.AllocsPerOp = br.AllocsPerOp()
	r.BytesPerOp = br.AllocedBytesPerOp()
	return r
}

// ratio is r's throughput over its baseline's; 0 when either is unknown.
func ratio(r, base Result) float64 {
	if r.Failed || base.Failed || r.MBPerSec == 0 || base.MBPerSec == 0 {
		return 0
	}
	return r.MBPerSec / base.MBPerSec
}

// fillRatios sets the ratio of every suite in one round whose baseline is
// in the round too, wherever it ran.
func fillRatios(results []Result) {
	byName := map[string]Result{}
	for _, r := range results {
		byName[r.Name] = r
	}
	for i, r := range results {
		if base, ok := byName[r.Baseline]; ok && r.Ratio == 0 {
			results[i].Ratio = ratio(r, base)
		}
	}
}
