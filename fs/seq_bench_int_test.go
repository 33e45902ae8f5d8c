package fs

import (
	"fmt"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// seqBytes is how much BenchmarkMountSequential writes and reads per
// iteration.
const seqBytes = 32 << 20

// BenchmarkMountSequential writes a new file through the page cache in
// 128 KiB writes and fsyncs it, then reads it back cold in 128 KiB reads
// (the page cache dropped with fadvise), at chunks of 4, 16 and 64 KiB:
// what bench/chunks.sh does with dd, in process. It reports the server's
// CPU per MiB (srv-cpu-ns/MiB), the figure that decides the default chunk
// size (docs/DECISIONS.md, "Chunk size").
func BenchmarkMountSequential(b *testing.B) {
	for _, op := range []string{"write", "read"} {
		for _, chunk := range fioChunks {
			b.Run(fmt.Sprintf("op=%s/chunk=%d", op, chunk), func(b *testing.B) {
				tm := newTestMount(b, func(o *Options) { o.ChunkSize = chunk })
				benchSequential(b, tm.path("seq"), op == "write")
			})
		}
	}
}

func benchSequential(b *testing.B, path string, write bool) {
	buf := plaintext(128 << 10)
	if !write {
		seqWrite(b, path, buf)
	}
	b.SetBytes(seqBytes)
	b.ReportAllocs()
	b.ResetTimer()
	c0 := serverCPU(b)
	for range b.N {
		if write {
			seqWrite(b, path, buf)
		} else {
			seqRead(b, path, buf)
		}
	}
	cpu := serverCPU(b) - c0
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N)/(seqBytes>>20), "srv-cpu-ns/MiB")
}

// seqWrite writes a new file of seqBytes in len(buf) writes and fsyncs it.
func seqWrite(b *testing.B, path string, buf []byte) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	for off := 0; off < seqBytes; off += len(buf) {
		if _, err := f.Write(buf); err != nil {
			b.Fatal(err)
		}
	}
	if err := f.Sync(); err != nil {
		b.Fatal(err)
	}
}

// seqRead drops the file's cached pages and reads it in len(buf) reads.
func seqRead(b *testing.B, path string, buf []byte) {
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		b.Fatal(err)
	}
	for n := 0; n < seqBytes; {
		m, err := f.Read(buf)
		if err != nil {
			b.Fatal(err)
		}
		n += m
	}
}
