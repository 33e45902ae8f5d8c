package bench

import (
	"errors"
	"fmt"
	"regexp"
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
	Failed   bool    `json:"failed,omitempty"`
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

// Run runs suites one after another through testing.Benchmark (each for
// the default benchmark time, 1 s) and calls report, if not nil, after
// each, so that a long run shows progress. A failed suite is reported with
// Failed set; Run then continues and finally returns ErrFailed naming it.
func Run(suites []Suite, report func(Result)) ([]Result, error) {
	results := make([]Result, 0, len(suites))
	byName := map[string]Result{}
	var failed []string
	for _, s := range suites {
		r := measure(s)
		if base, ok := byName[r.Baseline]; ok {
			r.Ratio = ratio(r, base)
		}
		if r.Failed {
			failed = append(failed, s.Name)
		}
		results = append(results, r)
		byName[r.Name] = r
		if report != nil {
			report(r)
		}
	}
	fillRatios(results)
	if len(failed) > 0 {
		return results, fmt.Errorf("%w: %s", ErrFailed, strings.Join(failed, ", "))
	}
	return results, nil
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

// fillRatios sets the ratios of suites that ran before their baseline
// (not the case in Suites order, but Run does not depend on it).
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
