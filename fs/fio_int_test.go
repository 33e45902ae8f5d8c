package fs

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/kmsfs/kmsfs/envelope"
)

// fioSecs is how long each fio run of BenchmarkFio lasts:
// KMSFS_FIO_SECS, or 1 s so that CI's -benchtime=1x stays quick.
func fioSecs() int {
	if s, err := strconv.Atoi(os.Getenv("KMSFS_FIO_SECS")); err == nil && s > 0 {
		return s
	}
	return 1
}

// BenchmarkFio runs fio's 4 KiB O_DIRECT random reads and writes against
// an in-process mount (a 64 MiB file, chunks of 4, 16 and 64 KiB) at one and four
// concurrent jobs, and reports what the mount's own process spent on them:
// CPU time (user+system, getrusage of this process, which is the FUSE
// server; fio is a child and not counted) and heap allocations per 4 KiB
// operation. These are the figures the machine's other load disturbs
// least; IOPS is reported beside them. Run it with -cpuprofile to profile
// the FUSE server under fio.
func BenchmarkFio(b *testing.B) {
	requireFUSE(b)
	if _, err := exec.LookPath("fio"); err != nil {
		b.Skip("fio not installed")
	}
	for _, c := range fioChunks {
		for _, rw := range []string{"randread", "randwrite"} {
			for _, jobs := range []int{1, 4} {
				b.Run(fmt.Sprintf("chunk=%d/rw=%s/jobs=%d", c, rw, jobs), func(b *testing.B) {
					benchFio(b, c, rw, jobs)
				})
			}
		}
	}
}

// fioChunks are the chunk sizes BenchmarkFio compares.
var fioChunks = []int{envelope.MinChunkSize, 16 << 10, envelope.DefaultChunkSize}

func benchFio(b *testing.B, chunk int, rw string, jobs int) {
	tm := newTestMount(b, func(o *Options) { o.ChunkSize = chunk })
	if err := os.WriteFile(tm.path("fio.dat"), plaintext(benchWindow), 0o644); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		runFio(b, tm.path("fio.dat"), rw, jobs)
	}
}

// runFio runs one fio job set on file and reports its figures.
func runFio(b *testing.B, file, rw string, jobs int) {
	b.Helper()
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	cpu0 := serverCPU(b)
	out, err := exec.Command("fio", "--name=bench", "--filename="+file, "--size=64m", "--rw="+rw, "--bs=4k",
		"--direct=1", "--ioengine=psync", fmt.Sprintf("--numjobs=%d", jobs), "--group_reporting",
		"--runtime="+strconv.Itoa(fioSecs()), "--time_based", "--randrepeat=1",
		"--output-format=terse", "--terse-version=3").Output()
	if err != nil {
		b.Fatalf("fio: %v\n%s", err, out)
	}
	cpu := serverCPU(b) - cpu0
	runtime.ReadMemStats(&ms1)
	// Terse v3: field 6 is the read total in KiB, 47 the write total.
	f := strings.Split(strings.SplitN(string(out), "\n", 2)[0], ";")
	if len(f) < 48 {
		b.Fatalf("fio: unexpected output %q", out)
	}
	field := 6
	if rw == "randwrite" {
		field = 47
	}
	kib, err := strconv.ParseFloat(f[field-1], 64)
	if err != nil || kib <= 0 {
		b.Fatalf("fio: bad total %q: %v", f[field-1], err)
	}
	ops := kib / 4
	b.ReportMetric(float64(cpu.Microseconds())/ops, "srv-cpu-µs/op")
	b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/ops, "srv-allocs/op")
	b.ReportMetric(float64(ms1.TotalAlloc-ms0.TotalAlloc)/ops, "srv-B/op")
	b.ReportMetric(ops/float64(fioSecs()), "iops")
}
