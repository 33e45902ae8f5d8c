package envelope

import (
	"context"
	"errors"
	"sync"
)

// verifySpanBytes is about how much ciphertext one Verify task reads with
// a single ReadAt before it opens the chunks one by one. A ReadAt per
// chunk cost a pread per chunk on disk (16 KiB chunks on a volume); a
// span this size still stays in a CPU's cache between the read and the
// opens, and a large file still gives every CPU many tasks.
const verifySpanBytes = 256 << 10

// verifyBufs recycles the span buffers of Verify tasks. They only ever
// hold ciphertext: chunks are opened out of them into a chunk-sized
// buffer of File.bufs, which is cleared before it goes back (putBuf).
var verifyBufs sync.Pool

// verifyErrs collects the damaged chunks a Verify finds, at most
// maxVerifyErrors of them.
type verifyErrs struct {
	mu   sync.Mutex
	errs []error
}

func (v *verifyErrs) add(err error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.errs) < maxVerifyErrors {
		v.errs = append(v.errs, err)
	}
}

// verifySpanChunks returns how many of the file's n chunks one Verify
// task checks: a span of about verifySpanBytes, or fewer, so that a file
// of a few spans still keeps every worker busy.
func (f *File) verifySpanChunks(n int64) int64 {
	per := int64(max(1, verifySpanBytes/f.layout.ChunkSize))
	workers := int64(f.pipe.Workers())
	return max(1, min(per, (n+workers-1)/workers))
}

// verifySpan authenticates chunks [first, last], which lie back to back in
// the backing, after one ReadAt of all of them, recording damaged chunks
// in v. If that read comes up short, verifyEach checks the chunks with a
// ReadAt each, so that a cut chunk or an I/O error is reported as if
// there were no spans.
func (f *File) verifySpan(ctx context.Context, first, last int64, v *verifyErrs) error {
	start, err := f.layout.ChunkOffset(first)
	if err != nil {
		return f.verifyEach(ctx, first, last, v)
	}
	stride := int(f.layout.StoredChunkSize())
	total := int(last-first)*stride + f.layout.ChunkLen(last, f.size) + ChunkOverhead
	bp := getVerifyBuf(total)
	defer verifyBufs.Put(bp)
	if m, _ := f.b.ReadAt(*bp, start); m < total {
		return f.verifyEach(ctx, first, last, v)
	}
	pp := f.bufs.Get()
	defer f.putBuf(pp, true)
	for k := range int(last-first) + 1 {
		i := first + int64(k)
		n := f.layout.ChunkLen(i, f.size)
		stored := (*bp)[k*stride : k*stride+n+ChunkOverhead]
		// Opened into pp, not in place, so that the span keeps no
		// plaintext and needs no clearing: only pp does.
		if _, err := f.hdr.keys.openChunk((*pp)[:0], stored, &f.hdr.pre.FileID, i, f.mayBeHole(i, n, f.size)); err != nil {
			v.add(err)
		}
	}
	return nil
}

// verifyEach authenticates chunks [first, last] with a ReadAt each,
// recording damaged or cut chunks in v. Any other error stops it.
func (f *File) verifyEach(ctx context.Context, first, last int64, v *verifyErrs) error {
	for i := first; i <= last; i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		err := f.verifyChunk(i)
		var ce *ChunkError
		switch {
		case errors.As(err, &ce):
			v.add(err)
		case err != nil:
			return err // I/O error: stop
		}
	}
	return nil
}

// getVerifyBuf returns a span buffer of n bytes with arbitrary contents.
func getVerifyBuf(n int) *[]byte {
	if bp, _ := verifyBufs.Get().(*[]byte); bp != nil && cap(*bp) >= n {
		*bp = (*bp)[:n]
		return bp
	}
	b := make([]byte, n)
	return &b
}
