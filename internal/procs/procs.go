// Package procs sizes the Go scheduler of a mount's serving process, whose
// FUSE readers spend their idle time blocked in read(2) on /dev/fuse.
//
// # Why
//
// go-fuse (v2.12.1, fuse/server.go NewServer) lets up to GOMAXPROCS
// goroutines, at least 2 and at most 16, read the device, and one more
// than that may be waiting in read(2) at a time (fuse/fusefd.go
// readRequest). A goroutine in a system call keeps its P. With the default
// GOMAXPROCS (the CPUs the process may use), an idle mount therefore has
// every P in a read(2), and the runtime's sysmon takes each back after
// 20 µs unless some P is idle or spinning (runtime/proc.go retake). Every
// FUSE request then ended in a reader that had lost its P: it had to find
// another or park its thread, and sysmon kept waking every 20 µs to take
// Ps back.
//
// With Ps to spare beyond what the readers can hold, sysmon leaves a
// blocked reader's P alone (for up to 10 ms) and a reader that gets a
// request runs on at once. On the 2-CPU test machine, kmsfs on tmpfs,
// before and after in alternation: 19.7 and 17.5 context switches per
// untarred entry against 15.3 and 15.5, 423 and 372 µs of server CPU per
// entry against 298 and 307, and 33.7 and 35.3 µs per 4 KiB O_DIRECT
// read against 30.2 and 29.3.
//
// The extra Ps are there to stay idle: the chunk pipeline seals on no more
// goroutines than GOMAXPROCS was when the process started
// (chunker.DefaultWorkers). The runtime's own garbage collector does size
// its marking by GOMAXPROCS (a quarter of the Ps, plus idle Ps while it
// marks), so collections take more of the CPUs while they run.
package procs

import (
	"os"
	"runtime"
	"strconv"
)

// goFuseReaders is go-fuse's limit on goroutines reading the device for a
// GOMAXPROCS of procs when the server was made (fuse/server.go NewServer:
// minMaxReaders, maxMaxReaders). TestGoFuseVersion fails when go.mod
// moves to another go-fuse, so that this is checked again.
func goFuseReaders(procs int) int {
	return min(max(procs, 2), 16)
}

// ForFUSE returns the GOMAXPROCS for a process that runs one FUSE server
// made while GOMAXPROCS was procs: procs for the work, and one P more
// than the readers that can be waiting in read(2) at once (go-fuse's
// limit plus one), so that those readers never hold every P.
func ForFUSE(procs int) int {
	return procs + goFuseReaders(procs) + 2
}

// userSet reports whether the environment sets GOMAXPROCS in a way the
// runtime honours: a positive integer (runtime/proc.go schedinit).
func userSet() bool {
	n, err := strconv.ParseInt(os.Getenv("GOMAXPROCS"), 10, 32)
	return err == nil && n > 0
}

// Spare raises GOMAXPROCS to ForFUSE of its current value. Call it once
// the FUSE server is made (go-fuse reads GOMAXPROCS then). A GOMAXPROCS
// the user set in the environment wins: Spare then changes nothing and
// returns false. Setting GOMAXPROCS also stops the runtime from updating
// it when the process's cgroup CPU limit changes.
func Spare() (before, after int, changed bool) {
	before = runtime.GOMAXPROCS(0)
	if userSet() {
		return before, before, false
	}
	after = ForFUSE(before)
	runtime.GOMAXPROCS(after)
	return before, after, true
}
