package fs

import (
	"fmt"
	"os"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/kmsfs/kmsfs/envelope"
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

// BenchmarkMountWrite measures pwrite through the mount (default chunk
// size, O_DIRECT), cycling over a 64 MiB file.
func BenchmarkMountWrite(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
			tm := newTestMount(b, func(o *Options) { o.ChunkSize = envelope.DefaultChunkSize })
			f := openDirect(b, tm.path("bench"), os.O_RDWR|os.O_CREATE)
			buf := alignedBuf(b, size)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := f.WriteAt(buf, int64(i*size)%benchWindow); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkMountRead measures pread through the mount (default chunk size,
// O_DIRECT) of a 64 MiB file.
func BenchmarkMountRead(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
			tm := newTestMount(b, func(o *Options) { o.ChunkSize = envelope.DefaultChunkSize })
			if err := os.WriteFile(tm.path("bench"), plaintext(benchWindow), 0o644); err != nil {
				b.Fatal(err)
			}
			f := openDirect(b, tm.path("bench"), os.O_RDONLY)
			buf := alignedBuf(b, size)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := f.ReadAt(buf, int64(i*size)%benchWindow); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
