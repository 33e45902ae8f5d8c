package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"

	"github.com/urfave/cli/v2"

	"github.com/kmsfs/kmsfs/bench"
)

func benchCommand() *cli.Command {
	return &cli.Command{
		Name:  "bench",
		Usage: "measure in-memory encryption throughput against raw AES-256-GCM",
		UsageText: `kmsfs bench [--filter REGEX] [--count N] [--json]

Runs the benchmarks of package bench, about a second each, in memory: no
disk, no FUSE, no keyring. Each envelope benchmark is compared with raw
AES-256-GCM on the same chunk size, measured in the same run (a filter
always keeps those baselines). On a busy machine, use --count 5: every
benchmark then runs 5 times, interleaved, and the median is shown with
the spread of the rounds. For numbers through a real mount, see
bench/mount.sh and docs/PERFORMANCE.md.

Example: kmsfs bench --filter 'SealChunk/64K' --count 5`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "filter", Usage: "run only benchmarks whose name matches `REGEX`"},
			&cli.IntFlag{Name: "count", Value: 1, Usage: "run every benchmark `N` times and show the median"},
			&cli.BoolFlag{Name: "json", Usage: "print the machine and results as JSON"},
		},
		Action: benchAction,
	}
}

// benchReport is the --json output.
type benchReport struct {
	Machine bench.Machine  `json:"machine"`
	Results []bench.Result `json:"results"`
}

func benchAction(c *cli.Context) error {
	if err := needArgs(c, 0); err != nil {
		return err
	}
	count := c.Int("count")
	if count < 1 {
		return usageError{fmt.Sprintf("bench --count %d: want at least 1", count)}
	}
	suites, err := selectSuites(c.String("filter"))
	if err != nil {
		return err
	}
	w := c.App.Writer
	m := bench.ReadMachine()
	if c.Bool("json") {
		results, err := bench.Run(suites, count, nil)
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if jerr := enc.Encode(benchReport{m, results}); jerr != nil {
			return jerr
		}
		return err
	}
	writeMachine(w, m, len(suites), count)
	_, err = bench.Run(suites, count, func(r bench.Result) { writeResult(w, r) })
	return err
}

// selectSuites compiles the filter; a bad or unmatched one is a usage error.
func selectSuites(filter string) ([]bench.Suite, error) {
	var re *regexp.Regexp
	if filter != "" {
		var err error
		if re, err = regexp.Compile(filter); err != nil {
			return nil, usageError{fmt.Sprintf("bench --filter: %v", err)}
		}
	}
	suites, err := bench.Select(bench.Suites(), re)
	if errors.Is(err, bench.ErrNoMatch) {
		return nil, usageError{err.Error()}
	}
	return suites, err
}

// benchRow is the layout of the result table, shared by its header and rows.
const benchRow = "%-30s %10s %8s %12s %10s  %s\n"

func writeMachine(w io.Writer, m bench.Machine, n, count int) {
	aes := "no: expect slow GCM"
	if m.AES {
		aes = "yes"
	}
	fmt.Fprintf(w, "cpu:     %s (AES instructions: %s)\n", m.CPU, aes)
	fmt.Fprintf(w, "cores:   %d, GOMAXPROCS %d\n", m.NumCPU, m.GOMAXPROCS)
	fmt.Fprintf(w, "go:      %s %s, kernel %s\n", m.GoVersion, m.Platform, m.Kernel)
	fmt.Fprintf(w, "running: %d benchmark(s) x %d round(s), about 1 s each, in memory\n", n, count)
	if count > 1 {
		fmt.Fprintf(w, "         median round shown; spread = (fastest - slowest) / median MB/s\n")
	}
	fmt.Fprintf(w, "\n"+benchRow, "benchmark", "MB/s", "spread", "ns/op", "allocs/op", "vs raw AES-GCM")
}

func writeResult(w io.Writer, r bench.Result) {
	if r.Failed {
		fmt.Fprintf(w, benchRow, r.Name, "FAILED", "-", "-", "-",
			fmt.Sprintf("see: go test -run '^$' -bench 'Suites/%s$' ./bench", r.Name))
		return
	}
	vs := ""
	switch {
	case r.Ratio > 0:
		vs = fmt.Sprintf("%.2fx %s", r.Ratio, r.Baseline)
	case r.Baseline == "":
		vs = "(baseline)"
	}
	spread := "-"
	if r.Rounds > 1 {
		spread = fmt.Sprintf("%.0f%%", 100*r.Spread)
	}
	fmt.Fprintf(w, benchRow, r.Name, fmt.Sprintf("%.1f", r.MBPerSec), spread,
		fmt.Sprintf("%.0f", r.NsPerOp), fmt.Sprint(r.AllocsPerOp), vs)
}
