package bench

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/kmsfs/kmsfs/envelope"
	"github.com/kmsfs/kmsfs/internal/memfile"
)

// BenchmarkVerifyRatio interleaves rounds of GCM opens on every CPU and
// of Verify (64 KiB and 16 KiB chunks in memory, 16 KiB on disk), 64 MiB
// each, and reports the median over b.N rounds of each Verify's rate over
// the GCM rate of the same round. On a machine others load, adjacent
// rounds see about the same load, so this ratio moves much less than the
// ratio of the Suites' MB/s, each measured over a second or two:
//
//	go test -run '^$' -bench VerifyRatio -benchtime 40x ./bench
func BenchmarkVerifyRatio(b *testing.B) {
	open := gcmOpenRound(b, envelope.DefaultChunkSize, verifyFileSize)
	ops := []func() error{open}
	for _, c := range []int{envelope.DefaultChunkSize, verifyVolumeChunkSize} {
		backing := &memfile.File{}
		if err := newFileOn(b, backing, c, verifyFileSize).Close(); err != nil {
			b.Fatal(err)
		}
		ops = append(ops, func() error { return envelope.Verify(context.Background(), backing, benchKeys, false) })
	}
	// The 16K file again, on disk (in the page cache), as fsck reads it.
	disk, err := os.Create(filepath.Join(b.TempDir(), "f"))
	if err != nil {
		b.Fatal(err)
	}
	defer disk.Close()
	if err := newFileOn(b, disk, verifyVolumeChunkSize, verifyFileSize).Close(); err != nil {
		b.Fatal(err)
	}
	ops = append(ops, func() error { return envelope.Verify(context.Background(), disk, benchKeys, false) })
	var r64, r16, rDisk []float64
	t := make([]time.Duration, len(ops))
	for k := 0; b.Loop(); k++ {
		for j := range ops {
			o := (j + k) % len(ops) // rotate the order
			start := time.Now()
			if err := ops[o](); err != nil {
				b.Fatal(err)
			}
			t[o] = time.Since(start)
		}
		r64 = append(r64, float64(t[0])/float64(t[1]))
		r16 = append(r16, float64(t[0])/float64(t[2]))
		rDisk = append(rDisk, float64(t[0])/float64(t[3]))
	}
	b.ReportMetric(medianOf(r64), "ratio-64K")
	b.ReportMetric(medianOf(r16), "ratio-16K")
	b.ReportMetric(medianOf(rDisk), "ratio-16K-disk")
}

// medianOf returns the median of x, which it sorts.
func medianOf(x []float64) float64 {
	slices.Sort(x)
	return x[len(x)/2]
}

// gcmOpenRound returns a round of GCM opens of c-byte chunks, n bytes in
// all, shared out over GOMAXPROCS goroutines.
func gcmOpenRound(b *testing.B, c int, n int64) func() error {
	aead := newGCM(b)
	nonce := make([]byte, aead.NonceSize())
	ct := aead.Seal(nil, nonce, make([]byte, c), nil)
	workers := runtime.GOMAXPROCS(0)
	dst := make([][]byte, workers)
	for w := range dst {
		dst[w] = make([]byte, 0, c)
	}
	per := int(n) / c / workers
	return func() error {
		var wg sync.WaitGroup
		errs := make([]error, workers)
		for w := range workers {
			wg.Go(func() {
				for range per {
					if _, err := aead.Open(dst[w], nonce, ct, nil); err != nil {
						errs[w] = err
						return
					}
				}
			})
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				return err
			}
		}
		return nil
	}
}
