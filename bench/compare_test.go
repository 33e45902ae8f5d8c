package bench_test

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kmsfs/kmsfs/internal/testutil"
)

// TestCompareSmoke runs bench/compare.sh with tiny sizes on one kmsfs
// mount and two cheap workloads, so that the script cannot rot unnoticed:
// it checks the exit status, the report's tables and the TSV's columns,
// and that the script left no mount behind. Nothing is asserted about the
// numbers.
func TestCompareSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds kmsfs and mounts it through bench/compare.sh")
	}
	if os.Geteuid() != 0 {
		t.Skip("bench/compare.sh needs root: it mounts and drops caches")
	}
	testutil.RequireFUSE(t)
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("bench/compare.sh builds kmsfs, and go is not in PATH")
	}
	dir := t.TempDir()
	t.Cleanup(func() { unmountUnder(t, dir) }) // runs before TempDir's removal
	tsv := filepath.Join(dir, "raw.tsv")

	cmd := exec.Command("bash", "compare.sh", "--smoke", "--only", "kmsfs", "--workloads", "create,stat",
		"--rounds", "1", "--settle", "0", "--dir", dir, "--tsv", tsv)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// On a hang, SIGINT lets the script's trap unmount before it exits.
	timer := time.AfterFunc(2*time.Minute, func() { _ = cmd.Process.Signal(os.Interrupt) })
	err := cmd.Wait()
	timer.Stop()
	if err != nil {
		t.Fatalf("compare.sh: %v\nstdout:\n%s\nstderr:\n%s", err, &stdout, &stderr)
	}
	out := stdout.String()
	t.Logf("compare.sh output:\n%s", out)

	for _, prefix := range []string{"machine:", "backing:", "kmsfs:", "run:", "sizes:", "rounds:"} {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(prefix) + ` +\S`).MatchString(out) {
			t.Errorf("no %q line in the header", prefix)
		}
	}
	for _, heading := range []string{"Medians over 1 round", "FUSE server CPU per operation", "FUSE server peak RSS"} {
		if !strings.Contains(out, heading) {
			t.Errorf("no table %q", heading)
		}
	}
	if strings.Contains(out, "Ratio to gocryptfs") {
		t.Error("a ratio table without gocryptfs")
	}
	// Each workload has a row in each of the three tables, ending in
	// kmsfs's number.
	for _, w := range []string{"create", "stat"} {
		rows := regexp.MustCompile(`(?m)^`+w+` \d+ files.* (\d+(\.\d+)?)$`).FindAllString(out, -1)
		if len(rows) != 3 {
			t.Errorf("%s: %d table rows with a number, want 3:\n%q", w, len(rows), rows)
		}
	}
	checkTSV(t, tsv)
}

// checkTSV checks the raw numbers: the header, and one row per workload
// with a value, an operation count, CPU ticks and a peak RSS.
func checkTSV(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	const header = "round\tslot\tworkload\tlabel\ttarget\tunit\tvalue\tmode\tops\tsecs\tcpu_ticks\tcpu_us_per_op\tpeak_rss_kib"
	if lines[0] != header {
		t.Fatalf("TSV header %q, want %q", lines[0], header)
	}
	if len(lines) != 3 {
		t.Fatalf("TSV has %d rows, want 2 (create, stat):\n%s", len(lines)-1, b)
	}
	for i, w := range []string{"create", "stat"} {
		f := strings.Split(lines[i+1], "\t")
		if len(f) != 13 || f[0] != "1" || f[2] != w || f[4] != "kmsfs" || f[5] != "s" {
			t.Errorf("TSV row %q: want 13 fields, round 1, %s on kmsfs in s", lines[i+1], w)
			continue
		}
		for _, n := range []int{6, 8, 9, 10, 11, 12} {
			if _, err := strconv.ParseFloat(f[n], 64); err != nil {
				t.Errorf("TSV row %q: field %d %q is not a number", lines[i+1], n+1, f[n])
			}
		}
		if rss, _ := strconv.Atoi(f[12]); rss <= 0 {
			t.Errorf("TSV row %q: no peak RSS", lines[i+1])
		}
	}
}

// unmountUnder fails t for each mount the script left below dir, and
// detaches it so that dir can be removed.
func unmountUnder(t *testing.T, dir string) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		t.Error(err)
		return
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		// Field 5 is the mountpoint, with spaces escaped as \040.
		fields := strings.Fields(s.Text())
		if len(fields) < 5 || !strings.HasPrefix(fields[4], dir+"/") {
			continue
		}
		t.Errorf("compare.sh left %s mounted", fields[4])
		if out, err := exec.Command("fusermount3", "-u", "-z", fields[4]).CombinedOutput(); err != nil {
			t.Errorf("fusermount3 -u -z %s: %v: %s", fields[4], err, out)
		}
	}
}
