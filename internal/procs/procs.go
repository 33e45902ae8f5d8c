// Package procs sizes the Go scheduler of a mount's serving process, whose
// FUSE readers spend their idle time blocked in read(2) on /dev/fuse.
//
// # Why
//
// go-fuse (v2.12.1, fuse/server.go NewServer) lets up to GOMAXPROCS
// goroutines, at least 2 and at most 16, read the device, and one more
// than that may be waiting in read(2) at a time (fuse/fusefd.go
// readRequest). A goroutine in a system call keeps its P. With the default
// GOMAXPROCS (the CPU count), an idle mount therefore has every P in a
// read(2), and the runtime's sysmon takes each back after 20 µs unless some
// P is idle (runtime/proc.go retake: "we don't want to retake Ps if there
// is no other work to do" holds only while another P is idle or spinning).
// Every FUSE request then ends in a reader that lost its P: it must find
// another or park its thread, and sysmon keeps waking every 20 µs to take
// Ps back. On the 2-CPU test machine that was 21.6 context switches and
// 579 µs of server CPU per entry of an untar, 45 µs per 4 KiB O_DIRECT
// read.
//
// With Ps to spare beyond what the readers can hold, sysmon leaves a
// blocked reader's P alone for 10 ms and backs off, and a reader that gets
// a request runs on at once: 16.2 context switches and 438 µs per untarred
// entry, 30 µs per random read (25,000 against 17,700–21,700 IOPS).
//
// The extra Ps do not add parallel work of ours: they are there to be
// idle. The chunk pipeline sizes itself by the CPU count (chunker.NewPipeline).
package procs

import (
	"os"
	"runtime"
)

// goFuseReaders is go-fuse's limit on goroutines reading the device for a
// GOMAXPROCS of procs when the server was made (fuse/server.go NewServer).
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

// Spare raises GOMAXPROCS to ForFUSE of its current value. Call it once
// the FUSE server is made (go-fuse reads GOMAXPROCS then). A GOMAXPROCS
// the user set in the environment wins: Spare then changes nothing and
// returns false.
func Spare() (before, after int, changed bool) {
	before = runtime.GOMAXPROCS(0)
	if _, set := os.LookupEnv("GOMAXPROCS"); set {
		return before, before, false
	}
	after = ForFUSE(before)
	runtime.GOMAXPROCS(after)
	return before, after, true
}
