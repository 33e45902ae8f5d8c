package main

import (
	"bytes"
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/kmsfs/kmsfs/bench"
)

// runKmsfs runs the command line in-process and returns its output and
// exit code.
func runKmsfs(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := newApp(strings.NewReader(""), &out, &errOut).RunContext(context.Background(), append([]string{"kmsfs"}, args...))
	return out.String(), errOut.String(), exitCode(err)
}

// TestBenchText runs one small envelope benchmark, which brings its GCM
// baseline along, and checks the shape of the report (never the numbers:
// they depend on the machine).
func TestBenchText(t *testing.T) {
	out, errOut, code := runKmsfs(t, "bench", "--filter", "^Envelope/SealChunk/4K$")
	if code != exitOK {
		t.Fatalf("exit %d, stderr %q, stdout:\n%s", code, errOut, out)
	}
	for _, re := range []string{
		`(?m)^cpu: +\S.* \(AES instructions: (yes|no.*)\)$`,
		`(?m)^cores: +\d+, GOMAXPROCS \d+$`,
		`(?m)^go: +go\S* \S+/\S+, kernel \S+$`,
		`(?m)^running: 2 benchmark\(s\) x 1 round\(s\)`,
		`(?m)^benchmark +MB/s +spread +ns/op +allocs/op +vs raw AES-GCM$`,
		`(?m)^GCM/Seal/4K +\d+\.\d +- +\d+ +\d+ +\(baseline\)$`,
		`(?m)^Envelope/SealChunk/4K +\d+\.\d +- +\d+ +\d+ +\d+\.\d\dx GCM/Seal/4K$`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("output does not match %s:\n%s", re, out)
		}
	}
	if n := strings.Count(out, "/4K "); n != 2 {
		t.Errorf("%d result rows, want 2 (the filtered suite and its baseline):\n%s", n, out)
	}
}

func TestBenchJSON(t *testing.T) {
	out, errOut, code := runKmsfs(t, "bench", "--json", "--filter", "^Envelope/OpenChunk/4K$")
	if code != exitOK {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	var rep struct {
		Machine bench.Machine
		Results []bench.Result
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if rep.Machine.GoVersion == "" || rep.Machine.GOMAXPROCS < 1 {
		t.Errorf("machine %+v", rep.Machine)
	}
	if len(rep.Results) != 2 {
		t.Fatalf("results %+v, want the suite and its baseline", rep.Results)
	}
	base, env := rep.Results[0], rep.Results[1]
	if base.Name != "GCM/Open/4K" || base.MBPerSec <= 0 || base.Iterations <= 0 || base.Rounds != 1 {
		t.Errorf("baseline %+v", base)
	}
	if env.Name != "Envelope/OpenChunk/4K" || env.Baseline != base.Name || env.Ratio <= 0 || env.NsPerOp <= 0 {
		t.Errorf("envelope result %+v", env)
	}
}

func TestBenchUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"bad regexp", []string{"bench", "--filter", "("}},
		{"no match", []string{"bench", "--filter", "^nothing$"}},
		{"argument", []string{"bench", "extra"}},
		{"unknown flag", []string{"bench", "--benchtime", "3s"}},
		{"zero count", []string{"bench", "--count", "0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, code := runKmsfs(t, tc.args...); code != exitUsage {
				t.Errorf("exit %d, want %d", code, exitUsage)
			}
		})
	}
}
