package procs

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

func TestForFUSE(t *testing.T) {
	for _, tc := range []struct{ procs, want int }{
		{1, 1 + 2 + 2},    // go-fuse reads with at least 2 goroutines
		{2, 2 + 2 + 2},    // the 2-CPU test machine: 6
		{8, 8 + 8 + 2},    // readers follow GOMAXPROCS
		{16, 16 + 16 + 2}, // up to 16
		{64, 64 + 16 + 2}, // go-fuse reads with at most 16
	} {
		if got := ForFUSE(tc.procs); got != tc.want {
			t.Errorf("ForFUSE(%d) = %d, want %d", tc.procs, got, tc.want)
		}
	}
}

// TestGoFuseVersion pins the go-fuse release whose reader limits
// goFuseReaders copies: a go.mod that moves to another one fails here
// until someone reads the new fuse/server.go and updates both.
func TestGoFuseVersion(t *testing.T) {
	mod, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	const want = "github.com/hanwen/go-fuse/v2 v2.12.1"
	if !strings.Contains(string(mod), want) {
		t.Errorf("go.mod does not require %q: check goFuseReaders against the new go-fuse's NewServer (minMaxReaders, maxMaxReaders) and readRequest, then update this test", want)
	}
}

// TestSpare runs Spare in a child process (it changes GOMAXPROCS for the
// whole process), with and without GOMAXPROCS in its environment.
func TestSpare(t *testing.T) {
	if os.Getenv("KMSFS_PROCS_CHILD") == "1" {
		before, after, changed := Spare()
		os.Stdout.WriteString(strconv.Itoa(before) + " " + strconv.Itoa(after) + " " + strconv.FormatBool(changed) + " " + strconv.Itoa(runtime.GOMAXPROCS(0)) + "\n")
		return
	}
	run := func(t *testing.T, env ...string) (before, after int, changed bool, now int) {
		t.Helper()
		cmd := exec.Command(os.Args[0], "-test.run=^TestSpare$")
		cmd.Env = append(withoutGOMAXPROCS(os.Environ()), "KMSFS_PROCS_CHILD=1")
		cmd.Env = append(cmd.Env, env...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("child: %v\n%s", err, out)
		}
		var c string
		if _, err := fmt.Sscan(string(out), &before, &after, &c, &now); err != nil {
			t.Fatalf("child printed %q: %v", out, err)
		}
		return before, after, c == "true", now
	}
	t.Run("default", func(t *testing.T) {
		before, after, changed, now := run(t)
		if !changed || after != ForFUSE(before) || now != after {
			t.Errorf("Spare() = %d, %d, %v and GOMAXPROCS is %d; want %d, %d, true and %d", before, after, changed, now, before, ForFUSE(before), ForFUSE(before))
		}
	})
	for _, v := range []string{"", "0", "-2", "many"} {
		t.Run("ignored GOMAXPROCS="+v, func(t *testing.T) {
			// The runtime ignores these, so they are not the user's choice.
			before, after, changed, now := run(t, "GOMAXPROCS="+v)
			if !changed || after != ForFUSE(before) || now != after {
				t.Errorf("Spare() = %d, %d, %v and GOMAXPROCS is %d; want %d, %d, true and %d", before, after, changed, now, before, ForFUSE(before), ForFUSE(before))
			}
		})
	}
	t.Run("user's choice", func(t *testing.T) {
		before, after, changed, now := run(t, "GOMAXPROCS=3")
		if changed || before != 3 || after != 3 || now != 3 {
			t.Errorf("Spare() = %d, %d, %v and GOMAXPROCS is %d; want 3, 3, false and 3", before, after, changed, now)
		}
	})
}

func withoutGOMAXPROCS(env []string) []string {
	var out []string
	for _, e := range env {
		if !strings.HasPrefix(e, "GOMAXPROCS=") {
			out = append(out, e)
		}
	}
	return out
}
