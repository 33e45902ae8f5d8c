// Package bench holds the bodies of kmsfs's in-memory benchmarks, so that
// `go test -bench` and the `kmsfs bench` command (through
// testing.Benchmark) run the same code.
//
// Each envelope benchmark sits beside the raw crypto/cipher AES-256-GCM
// operation on the same number of bytes, so the envelope's overhead reads
// as a ratio of the two. Nothing here touches a disk: backings are in
// memory, and the key wrapper is a stand-in (wrapping happens once per
// file and is not what is measured).
package bench

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"fmt"
	"io"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kmsfs/kmsfs/internal/memfile"
	"github.com/kmsfs/kmsfs/internal/testkms"
	"github.com/kmsfs/kmsfs/internal/volume"

	"github.com/kmsfs/kmsfs/envelope"
)

// Suite is one named benchmark body.
type Suite struct {
	Name string
	F    func(*testing.B)
}

// chunkSizes are the chunk sizes of the per-chunk benchmarks.
var chunkSizes = []struct {
	name string
	size int
}{{"4K", 4 << 10}, {"64K", 64 << 10}, {"1M", 1 << 20}}

// requestSize is the size of one File.WriteAt/ReadAt request: FUSE's
// largest write (go-fuse MAX_KERNEL_WRITE).
const requestSize = 1 << 20

// fileSpan is how far sequential File benchmarks run before wrapping to
// offset 0; it bounds the in-memory backing.
const fileSpan = 32 << 20

// Suites returns every benchmark, in a stable order.
func Suites() []Suite {
	var s []Suite
	for _, c := range chunkSizes {
		s = append(s,
			Suite{"GCM/Seal/" + c.name, func(b *testing.B) { gcmSeal(b, c.size) }},
			Suite{"Envelope/SealChunk/" + c.name, func(b *testing.B) { sealChunk(b, c.size) }},
			Suite{"GCM/Open/" + c.name, func(b *testing.B) { gcmOpen(b, c.size) }},
			Suite{"Envelope/OpenChunk/" + c.name, func(b *testing.B) { openChunk(b, c.size) }},
		)
	}
	return append(s,
		Suite{"File/WriteAt/1MiB-sequential", fileWrite},
		Suite{"File/ReadAt/1MiB-sequential", fileRead},
		Suite{"Stream/Writer/64K", streamWrite},
		Suite{"Stream/Reader/64K", streamRead},
		Suite{"GCM/OpenParallel/" + sizeName(envelope.DefaultChunkSize), func(b *testing.B) { gcmOpenParallel(b, envelope.DefaultChunkSize) }},
		Suite{"Verify/64MiB", func(b *testing.B) { verifyFile(b, envelope.DefaultChunkSize) }},
		Suite{"Verify/64MiB-" + sizeName(verifyVolumeChunkSize), func(b *testing.B) { verifyFile(b, verifyVolumeChunkSize) }},
	)
}

// verifyFileSize is the plaintext size of the file Verify/64MiB checks.
const verifyFileSize = 64 << 20

// verifyVolumeChunkSize is the chunk size of files on a kmsfs volume, the
// files `kmsfs fsck` really checks. Its suite still compares with
// GCM/OpenParallel on envelope.DefaultChunkSize: the raw open rate.
const verifyVolumeChunkSize = volume.DefaultChunkSize

// verifyFile runs envelope.Verify, the check `kmsfs fsck` makes of each
// file, over a 64 MiB file with chunk size c. Verify opens its chunks on
// every CPU, so its baseline is GCM/OpenParallel.
func verifyFile(b *testing.B, c int) {
	backing := &memfile.File{}
	if err := newFileOn(b, backing, c, verifyFileSize).Close(); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(verifyFileSize)
	b.ReportAllocs()
	cpu := cpuTime()
	for b.Loop() {
		if err := envelope.Verify(context.Background(), backing, benchKeys, false); err != nil {
			b.Fatal(err)
		}
	}
	reportCPURate(b, cpu, verifyFileSize)
}

// cpuTime returns the user and system CPU time the process has used.
func cpuTime() time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPURate reports MB/cpu-s: the b.N operations of n bytes each over
// the CPU time used since start, on all CPUs. On a machine that others
// load too, it varies much less than MB/s (wall time), so it is the figure
// to compare parallel suites by there; GCM/OpenParallel reports it too.
func reportCPURate(b *testing.B, start time.Duration, n int64) {
	if d := cpuTime() - start; d > 0 {
		b.ReportMetric(float64(b.N)*float64(n)/1e6/d.Seconds(), "MB/cpu-s")
	}
}

// gcmOpenParallel is gcmOpen on every CPU at once (b.RunParallel): the
// most the machine can open, the fair baseline for work spread over CPUs.
func gcmOpenParallel(b *testing.B, c int) {
	aead := newGCM(b)
	nonce := make([]byte, aead.NonceSize())
	ct := aead.Seal(nil, nonce, make([]byte, c), nil)
	b.SetBytes(int64(c))
	b.ReportAllocs()
	cpu := cpuTime()
	b.RunParallel(func(pb *testing.PB) {
		dst := make([]byte, 0, c)
		for pb.Next() {
			if _, err := aead.Open(dst, nonce, ct, nil); err != nil {
				b.Error(err)
				return
			}
		}
	})
	reportCPURate(b, cpu, int64(c))
}

// newGCM returns AES-256-GCM under a random key.
func newGCM(b *testing.B) cipher.AEAD {
	key := make([]byte, 32)
	rand.Read(key)
	block, err := aes.NewCipher(key)
	if err != nil {
		b.Fatal(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		b.Fatal(err)
	}
	return aead
}

// gcmSeal is the baseline for sealChunk: a random nonce and an in-place
// Seal with a 24-byte AAD, as a chunk seal does.
func gcmSeal(b *testing.B, n int) {
	aead := newGCM(b)
	buf := make([]byte, n+aead.Overhead())
	nonce, aad := make([]byte, 12), make([]byte, 24)
	b.SetBytes(int64(n))
	b.ReportAllocs()
	for b.Loop() {
		rand.Read(nonce)
		aead.Seal(buf[:0], nonce, buf[:n], aad)
	}
}

func gcmOpen(b *testing.B, n int) {
	aead := newGCM(b)
	nonce, aad := make([]byte, 12), make([]byte, 24)
	ct := aead.Seal(nil, nonce, make([]byte, n), aad)
	out := make([]byte, n)
	b.SetBytes(int64(n))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := aead.Open(out[:0], nonce, ct, aad); err != nil {
			b.Fatal(err)
		}
	}
}

// newFile returns a File with chunk size c on an in-memory backing,
// holding size bytes.
func newFile(b *testing.B, c int, size int64) *envelope.File {
	return newFileOn(b, &memfile.File{}, c, size)
}

// newFileOn is newFile on the given backing.
func newFileOn(b *testing.B, backing envelope.Backing, c int, size int64) *envelope.File {
	f, err := envelope.Create(context.Background(), backing, benchKeys, c)
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, min(size, requestSize))
	for off := int64(0); off < size; off += int64(len(buf)) {
		if _, err := f.WriteAt(buf[:min(int64(len(buf)), size-off)], off); err != nil {
			b.Fatal(err)
		}
	}
	return f
}

// sealChunk overwrites one whole chunk through File.WriteAt: no
// read-modify-write, so it measures seal + locking + buffer copies.
func sealChunk(b *testing.B, c int) {
	f := newFile(b, c, int64(c))
	defer f.Close()
	p := make([]byte, c)
	b.SetBytes(int64(c))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.WriteAt(p, 0); err != nil {
			b.Fatal(err)
		}
	}
}

// openChunk reads one whole chunk through File.ReadAt.
func openChunk(b *testing.B, c int) {
	f := newFile(b, c, int64(c))
	defer f.Close()
	p := make([]byte, c)
	b.SetBytes(int64(c))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.ReadAt(p, 0); err != nil {
			b.Fatal(err)
		}
	}
}

// fileWrite writes 1 MiB requests sequentially with 64 KiB chunks; the
// first pass over fileSpan appends, later passes overwrite.
func fileWrite(b *testing.B) {
	fileSequential(b, 0, (*envelope.File).WriteAt)
}

// fileRead reads 1 MiB requests sequentially from a fileSpan-sized file.
func fileRead(b *testing.B) {
	fileSequential(b, fileSpan, (*envelope.File).ReadAt)
}

// fileSequential runs op over a file of the given initial size in 1 MiB
// requests, wrapping around at fileSpan.
func fileSequential(b *testing.B, size int64, op func(*envelope.File, []byte, int64) (int, error)) {
	f := newFile(b, envelope.DefaultChunkSize, size)
	defer f.Close()
	p := make([]byte, requestSize)
	b.SetBytes(requestSize)
	b.ReportAllocs()
	var off int64
	for b.Loop() {
		if _, err := op(f, p, off); err != nil {
			b.Fatal(err)
		}
		off = (off + requestSize) % fileSpan
	}
}

// streamWrite measures NewWriter throughput in 1 MiB writes to io.Discard.
func streamWrite(b *testing.B) {
	w, err := envelope.NewWriter(context.Background(), io.Discard, benchKeys, envelope.DefaultChunkSize)
	if err != nil {
		b.Fatal(err)
	}
	p := make([]byte, requestSize)
	b.SetBytes(requestSize)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := w.Write(p); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
}

// streamRead measures NewReader throughput over an 8 MiB file.
func streamRead(b *testing.B) {
	const size = 8 << 20
	var ct memfile.File
	w, err := envelope.NewWriter(context.Background(), &ct, benchKeys, envelope.DefaultChunkSize)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := w.Write(make([]byte, size)); err != nil {
		b.Fatal(err)
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	data := ct.Bytes()
	buf := make([]byte, requestSize)
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		r, err := envelope.NewReader(context.Background(), bytes.NewReader(data), benchKeys)
		if err != nil {
			b.Fatal(err)
		}
		if n, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{r}, buf); err != nil || n != size {
			b.Fatal(fmt.Sprint(n, err))
		}
	}
}

// benchKeys stands in for the keyring: benchmarks measure chunk crypto and
// protect nothing, so its master keys are public.
var benchKeys = testkms.NewFixed()
