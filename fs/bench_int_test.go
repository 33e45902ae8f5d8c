package fs

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"golang.org/x/sys/unix"
)

// benchSizes are the request sizes of the mounted-filesystem benchmarks.
var benchSizes = []int{4 << 10, 64 << 10, 1 << 20}

// benchWindow is the file range the benchmarks cycle through.
const benchWindow = 64 << 20

// alignedBuf returns n bytes aligned for O_DIRECT.
func alignedBuf(b *testing.B, n int) []byte {
	mem, err := unix.Mmap(-1, 0, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { unix.Munmap(mem) })
	copy(mem, plaintext(n))
	return mem
}

// openDirect opens a mount file with O_DIRECT, which bypasses the page
// cache so that every request reaches kmsfs.
func openDirect(b *testing.B, path string, flags int) *os.File {
	f, err := os.OpenFile(path, flags|syscall.O_DIRECT, 0o644)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Close() })
	return f
}

// BenchmarkMountWrite measures pwrite through the mount (O_DIRECT, chunks
// of 4, 16 and 64 KiB), cycling over a 64 MiB file.
func BenchmarkMountWrite(b *testing.B) {
	for _, size := range benchSizes {
		for _, chunk := range fioChunks {
			b.Run(fmt.Sprintf("size=%d/chunk=%d", size, chunk), func(b *testing.B) {
				tm := newTestMount(b, func(o *Options) { o.ChunkSize = chunk })
				f := openDirect(b, tm.path("bench"), os.O_RDWR|os.O_CREATE)
				benchDirect(b, size, f.WriteAt)
			})
		}
	}
}

// BenchmarkMountRead measures pread through the mount (O_DIRECT, chunks of
// 4, 16 and 64 KiB) of a 64 MiB file.
func BenchmarkMountRead(b *testing.B) {
	for _, size := range benchSizes {
		for _, chunk := range fioChunks {
			b.Run(fmt.Sprintf("size=%d/chunk=%d", size, chunk), func(b *testing.B) {
				tm := newTestMount(b, func(o *Options) { o.ChunkSize = chunk })
				if err := os.WriteFile(tm.path("bench"), plaintext(benchWindow), 0o644); err != nil {
					b.Fatal(err)
				}
				f := openDirect(b, tm.path("bench"), os.O_RDONLY)
				benchDirect(b, size, f.ReadAt)
			})
		}
	}
}

// benchDirect runs b.N sequential requests of size bytes through op over
// benchWindow, and reports the server's CPU per request beside the time.
func benchDirect(b *testing.B, size int, op func([]byte, int64) (int, error)) {
	buf := alignedBuf(b, size)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	c0 := serverCPU(b)
	for i := 0; i < b.N; i++ {
		if _, err := op(buf, int64(i*size)%benchWindow); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64((serverCPU(b)-c0).Nanoseconds())/float64(b.N), "srv-cpu-ns/op")
}

// metadataFiles is how many files BenchmarkMetadata creates, stats and
// lists per iteration.
const metadataFiles = 10000

// benchMount is a mount for benchmarks that the benchmark unmounts itself,
// so that each iteration can start from cold kernel caches.
func benchMount(b *testing.B, o Options) (mnt string, unmount func()) {
	b.Helper()
	mnt = b.TempDir()
	root, err := NewRoot(o)
	if err != nil {
		b.Fatal(err)
	}
	srv, err := gofs.Mount(mnt, root, fuseOptions(&o))
	if err != nil {
		b.Fatal(err)
	}
	closeFuseOnExec()
	return mnt, func() {
		if err := srv.Unmount(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMetadata measures create, stat and readdir of 10,000 empty files
// in one directory through the mount, with and without name encryption.
// stat and readdir run on a fresh mount each iteration (cold kernel entry
// and attribute caches), so every file costs a FUSE lookup. The metric is
// ns/file.
func BenchmarkMetadata(b *testing.B) {
	requireFUSE(b)
	for _, mode := range nameModes {
		b.Run(mode.name+"/op=create", func(b *testing.B) { benchCreate(b, mode.opt) })
		b.Run(mode.name+"/op=stat", func(b *testing.B) { benchColdTree(b, mode.opt, statAll) })
		b.Run(mode.name+"/op=readdir", func(b *testing.B) { benchColdTree(b, mode.opt, readdirAll) })
	}
}

func benchCreate(b *testing.B, opt mountOpt) {
	tm := newTestMount(b, opt)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		dir := tm.path(fmt.Sprintf("d%d", i))
		if err := os.Mkdir(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		for j := range metadataFiles {
			f, err := os.Create(fmt.Sprintf("%s/file-%05d.txt", dir, j))
			if err != nil {
				b.Fatal(err)
			}
			f.Close()
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*metadataFiles), "ns/file")
}

// benchColdTree fills a directory with metadataFiles files, then times op
// on it through a fresh mount per iteration.
func benchColdTree(b *testing.B, opt mountOpt, op func(b *testing.B, dir string)) {
	tm := newTestMount(b, opt)
	if err := os.Mkdir(tm.path("d"), 0o755); err != nil {
		b.Fatal(err)
	}
	for j := range metadataFiles {
		if err := unix.Mknod(tm.path(fmt.Sprintf("d/file-%05d.txt", j)), unix.S_IFREG|0o644, 0); err != nil {
			b.Fatal(err)
		}
	}
	tm.waitReleased(b)
	o := tm.options()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		mnt, unmount := benchMount(b, o)
		b.StartTimer()
		op(b, mnt+"/d")
		b.StopTimer()
		unmount()
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*metadataFiles), "ns/file")
}

func statAll(b *testing.B, dir string) {
	var st unix.Stat_t
	for j := range metadataFiles {
		if err := unix.Lstat(fmt.Sprintf("%s/file-%05d.txt", dir, j), &st); err != nil {
			b.Fatal(err)
		}
	}
}

func readdirAll(b *testing.B, dir string) {
	ents, err := os.ReadDir(dir)
	if err != nil || len(ents) != metadataFiles {
		b.Fatalf("readdir: %d entries, %v", len(ents), err)
	}
}

// BenchmarkUntar extracts Go's src/crypto tree (about 1,000 files) with
// tar into a fresh mount, with and without name encryption. The metric is
// ns/file; the tarball is made once, before timing.
func BenchmarkUntar(b *testing.B) {
	requireFUSE(b)
	tarball, files := goCryptoTar(b)
	for _, mode := range nameModes {
		b.Run(mode.name, func(b *testing.B) {
			b.ReportAllocs()
			var cpu time.Duration
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				tm := newTestMount(b, mode.opt)
				b.StartTimer()
				c0 := serverCPU(b)
				if out, err := exec.Command("tar", "-C", tm.mnt, "-xf", tarball).CombinedOutput(); err != nil {
					b.Fatalf("tar: %v\n%s", err, out)
				}
				cpu += serverCPU(b) - c0
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*files), "ns/file")
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*files), "srv-cpu-ns/file")
			b.ReportMetric(float64(files), "files")
		})
	}
}

// BenchmarkTree runs ls -lR, du -s and rm -rf of Go's src/crypto tree on
// a fresh mount each iteration (cold kernel entry and attribute caches),
// with and without name encryption, like bench/compare.sh does on the
// whole of src. Its purpose is the server's CPU per entry, and profiles of
// it (-cpuprofile): the metric srv-cpu-ns/file counts only this process.
func BenchmarkTree(b *testing.B) {
	requireFUSE(b)
	tarball, files := goCryptoTar(b)
	for _, mode := range nameModes {
		for _, cmd := range [][]string{{"ls", "-lR"}, {"du", "-s"}, {"rm", "-rf"}} {
			b.Run(fmt.Sprintf("%s/op=%s", mode.name, cmd[0]), func(b *testing.B) {
				var cpu time.Duration
				b.ReportAllocs()
				for i := 0; i < b.N; i++ {
					b.StopTimer()
					tm := newTestMount(b, mode.opt)
					if out, err := exec.Command("tar", "-C", tm.mnt, "-xf", tarball).CombinedOutput(); err != nil {
						b.Fatalf("tar: %v\n%s", err, out)
					}
					tm.waitReleased(b)
					mnt, unmount := benchMount(b, tm.options())
					b.StartTimer()
					c0 := serverCPU(b)
					if out, err := exec.Command(cmd[0], append(cmd[1:], mnt+"/crypto")...).CombinedOutput(); err != nil {
						b.Fatalf("%s: %v\n%s", cmd, err, out)
					}
					cpu += serverCPU(b) - c0
					b.StopTimer()
					unmount()
					b.StartTimer()
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*files), "ns/file")
				b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*files), "srv-cpu-ns/file")
			})
		}
	}
}

// serverCPU returns the CPU time (user and system) this process, the FUSE
// server, has used so far; programs run with exec are not counted. Other
// load on the machine changes it far less than wall time.
func serverCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// goCryptoTar tars $GOROOT/src/crypto and returns the tarball and how many
// entries it holds.
func goCryptoTar(b *testing.B) (string, int) {
	b.Helper()
	if _, err := exec.LookPath("tar"); err != nil {
		b.Skip("tar not installed")
	}
	goroot, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		b.Skipf("go env GOROOT: %v", err)
	}
	src := filepath.Join(strings.TrimSpace(string(goroot)), "src")
	tarball := filepath.Join(b.TempDir(), "crypto.tar")
	if out, err := exec.Command("tar", "-C", src, "-cf", tarball, "crypto").CombinedOutput(); err != nil {
		b.Skipf("cannot tar %s/crypto: %v\n%s", src, err, out)
	}
	out, err := exec.Command("tar", "-tf", tarball).Output()
	if err != nil {
		b.Fatal(err)
	}
	return tarball, strings.Count(string(out), "\n")
}
