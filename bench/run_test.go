package bench

import (
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func TestBaselineOf(t *testing.T) {
	for _, tc := range []struct{ name, want string }{
		{"Envelope/SealChunk/4K", "GCM/Seal/4K"},
		{"Envelope/OpenChunk/1M", "GCM/Open/1M"},
		{"File/WriteAt/1MiB-sequential", "GCM/Seal/64K"},
		{"File/ReadAt/1MiB-sequential", "GCM/Open/64K"},
		{"Stream/Writer/64K", "GCM/Seal/64K"},
		{"Stream/Reader/64K", "GCM/Open/64K"},
		{"GCM/Seal/64K", ""},
		{"Other", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := BaselineOf(tc.name); got != tc.want {
				t.Errorf("BaselineOf(%q) = %q, want %q", tc.name, got, tc.want)
			}
		})
	}
}

// TestBaselinesExist keeps BaselineOf in step with Suites: every baseline
// it names is a suite.
func TestBaselinesExist(t *testing.T) {
	names := map[string]bool{}
	for _, s := range Suites() {
		names[s.Name] = true
	}
	for _, s := range Suites() {
		if b := BaselineOf(s.Name); b != "" && !names[b] {
			t.Errorf("%s: baseline %q is not a suite", s.Name, b)
		}
	}
}

func TestSelect(t *testing.T) {
	for _, tc := range []struct {
		filter string
		want   []string
	}{
		{"^GCM/Seal/4K$", []string{"GCM/Seal/4K"}},
		{"^Envelope/SealChunk/4K$", []string{"GCM/Seal/4K", "Envelope/SealChunk/4K"}},
		{"OpenChunk/64K|Stream/Reader", []string{"GCM/Open/64K", "Envelope/OpenChunk/64K", "Stream/Reader/64K"}},
	} {
		t.Run(tc.filter, func(t *testing.T) {
			sel, err := Select(Suites(), regexp.MustCompile(tc.filter))
			if err != nil {
				t.Fatal(err)
			}
			if got := suiteNames(sel); !slices.Equal(got, tc.want) {
				t.Errorf("Select(%q) = %q, want %q", tc.filter, got, tc.want)
			}
		})
	}
}

func TestSelectAll(t *testing.T) {
	sel, err := Select(Suites(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := suiteNames(sel), suiteNames(Suites()); !slices.Equal(got, want) {
		t.Errorf("Select(nil) = %q, want every suite %q", got, want)
	}
}

func TestSelectNoMatch(t *testing.T) {
	if _, err := Select(Suites(), regexp.MustCompile("^nothing$")); !errors.Is(err, ErrNoMatch) {
		t.Errorf("err = %v, want ErrNoMatch", err)
	}
}

// instant is a suite body that ignores b.N, so testing.Benchmark ramps N
// up to its cap at once instead of running for a second; it reports n
// bytes per op.
func instant(n int64) func(*testing.B) {
	return func(b *testing.B) {
		b.SetBytes(n)
		b.ReportAllocs()
	}
}

func TestRunRatios(t *testing.T) {
	suites := []Suite{
		{"GCM/Seal/4K", instant(4 << 10)},
		{"Envelope/SealChunk/4K", instant(2 << 10)},
		{"Other", instant(0)},
	}
	var reported []string
	results, err := Run(suites, 1, func(r Result) { reported = append(reported, r.Name) })
	if err != nil {
		t.Fatal(err)
	}
	if want := suiteNames(suites); !slices.Equal(reported, want) {
		t.Errorf("reported %q, want %q", reported, want)
	}
	base, env, other := results[0], results[1], results[2]
	if base.Iterations == 0 || base.MBPerSec <= 0 || base.Ratio != 0 || base.Baseline != "" || base.Rounds != 1 || base.Spread != 0 {
		t.Errorf("baseline result %+v", base)
	}
	if env.Baseline != "GCM/Seal/4K" || env.Ratio <= 0 || env.Ratio != env.MBPerSec/base.MBPerSec {
		t.Errorf("envelope result %+v, baseline %+v", env, base)
	}
	if other.MBPerSec != 0 || other.Ratio != 0 || other.Failed {
		t.Errorf("suite without bytes: %+v", other)
	}
}

// TestRunRatioAfterBaseline: a suite that runs before its baseline still
// gets its ratio.
func TestRunRatioAfterBaseline(t *testing.T) {
	results, err := Run([]Suite{
		{"Envelope/OpenChunk/4K", instant(1 << 10)},
		{"GCM/Open/4K", instant(1 << 10)},
	}, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	if results[0].Ratio <= 0 {
		t.Errorf("no ratio: %+v", results[0])
	}
}

func TestRunFailure(t *testing.T) {
	results, err := Run([]Suite{
		{"GCM/Seal/4K", func(b *testing.B) {
			for b.Loop() {
				b.Fatal("broken")
			}
		}},
		{"Envelope/SealChunk/4K", instant(1)},
	}, 1, nil)
	if !errors.Is(err, ErrFailed) || !strings.Contains(err.Error(), "GCM/Seal/4K") {
		t.Fatalf("err = %v, want ErrFailed naming GCM/Seal/4K", err)
	}
	if !results[0].Failed || results[0].Iterations != 0 {
		t.Errorf("failed suite reported as %+v", results[0])
	}
	if results[1].Failed || results[1].Ratio != 0 {
		t.Errorf("suite after a failed baseline: %+v (want no ratio)", results[1])
	}
}

// TestRunRounds: every suite runs count times, reports once, and its
// result is the median round.
func TestRunRounds(t *testing.T) {
	calls := map[string]int{}
	counted := func(name string, n int64) Suite {
		return Suite{name, func(b *testing.B) {
			if b.N == 1 { // testing.Benchmark's first probe of every measurement
				calls[name]++
			}
			instant(n)(b)
		}}
	}
	var reported int
	results, err := Run([]Suite{counted("GCM/Seal/64K", 64<<10), counted("Stream/Writer/64K", 32<<10)}, 3,
		func(Result) { reported++ })
	if err != nil {
		t.Fatal(err)
	}
	if calls["GCM/Seal/64K"] != 3 || calls["Stream/Writer/64K"] != 3 || reported != 2 {
		t.Errorf("calls %v, reported %d; want 3 measurements each, 2 reports", calls, reported)
	}
	for _, r := range results {
		if r.Rounds != 3 || r.Spread < 0 || r.MBPerSec <= 0 {
			t.Errorf("result %+v", r)
		}
	}
	if r := results[1]; r.Ratio <= 0 || r.Baseline != "GCM/Seal/64K" {
		t.Errorf("no ratio: %+v", r)
	}
}

func TestSummarize(t *testing.T) {
	rs := []Result{
		{Name: "x", NsPerOp: 30, MBPerSec: 100, Ratio: 0.5},
		{Name: "x", NsPerOp: 10, MBPerSec: 300, Ratio: 0.9, AllocsPerOp: 7},
		{Name: "x", NsPerOp: 20, MBPerSec: 150, Ratio: 0.7, AllocsPerOp: 3},
	}
	got := summarize(rs)
	want := Result{Name: "x", NsPerOp: 20, MBPerSec: 150, Ratio: 0.7, AllocsPerOp: 3, Rounds: 3, Spread: (300.0 - 100) / 150}
	if got != want {
		t.Errorf("summarize = %+v, want %+v", got, want)
	}
	rs[1].Failed = true
	if got := summarize(rs); !got.Failed {
		t.Errorf("a failed round must fail the suite: %+v", got)
	}
}

func suiteNames(s []Suite) []string {
	var n []string
	for _, x := range s {
		n = append(n, x.Name)
	}
	return n
}
