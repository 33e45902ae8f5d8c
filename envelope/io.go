package envelope

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"sync"
	"sync/atomic"

	"github.com/kmsfs/kmsfs/chunker"
)

// ReadAt reads plaintext at off, with io.ReaderAt semantics: it returns
// io.EOF with fewer than len(p) bytes at the end of the file. A chunk that
// fails to authenticate makes it return a *ChunkError wrapping
// ErrUnauthenticated; reads of other chunks are unaffected. At the end of
// a short file (see Truncation) it returns the bytes present with an
// error wrapping ErrTruncated instead of io.EOF, so that a copy fails
// loudly while the data before the end stays readable.
func (f *File) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("%w: read at %d", ErrInvalidOffset, off)
	}
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.closed {
		return 0, ErrClosed
	}
	if len(p) == 0 {
		return 0, nil
	}
	if off >= f.size {
		return 0, f.endError()
	}
	n := min(int64(len(p)), f.size-off)
	span, err := f.layout.Span(off, n)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrTooLarge, err)
	}
	mask := f.lockStripes(span, false)
	defer f.unlockStripes(mask, false)
	if err := f.readSpan(p, span); err != nil {
		if n < int64(len(p)) && f.short != nil {
			// In a short file, often the last chunk present, cut short.
			err = fmt.Errorf("%w; %w", f.short, err)
		}
		return 0, err
	}
	if n < int64(len(p)) {
		return int(n), f.endError()
	}
	return int(n), nil
}

// endError is what a read that reaches the end of the file returns:
// io.EOF, or for a short file its truncation error (FORMAT.md §8).
func (f *File) endError() error {
	if f.short != nil {
		return f.short
	}
	return io.EOF
}

// readSpan decrypts the chunks of span into p. A single chunk skips the
// pipeline and its closure. Several chunks, which lie back to back in the
// backing file, are read with one pread and then decrypted in parallel:
// a pread per chunk made small chunks cost a syscall each.
func (f *File) readSpan(p []byte, span chunker.Span) error {
	size := f.size
	if span.Count() == 1 {
		return f.readPiece(p, span.Piece(0), size)
	}
	start, err := f.layout.ChunkOffset(span.First)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrTooLarge, err)
	}
	stride := int(f.layout.StoredChunkSize())
	total := int(span.Count()-1)*stride + f.layout.ChunkLen(span.Last, size) + ChunkOverhead
	bp := getSpanBuf(total)
	m, err := f.b.ReadAt(*bp, start)
	if m < total {
		putSpanBuf(bp, false)
		if err == nil || errors.Is(err, io.EOF) {
			// A chunk is cut short: the chunk-by-chunk path names it.
			return f.readPieces(p, span, size)
		}
		return fmt.Errorf("envelope: reading chunks %d to %d: %w", span.First, span.Last, err)
	}
	var dirty atomic.Bool // a partial piece was decrypted in place
	err = f.pipe.RunGrouped(context.Background(), int(span.Count()), f.group, func(k int) error {
		pc := span.Piece(int64(k))
		n := f.layout.ChunkLen(pc.Index, size)
		stored := (*bp)[k*stride : k*stride+n+ChunkOverhead]
		if pc.Full(n) {
			_, err := f.hdr.keys.openChunk(p[pc.BufOff:pc.BufOff], stored, &f.hdr.pre.FileID, pc.Index, f.mayBeHole(pc.Index, n, size))
			return err
		}
		dirty.Store(true)
		pt, err := f.openStored(pc.Index, stored, size)
		if err == nil {
			copy(p[pc.BufOff:], pt[pc.Lo:pc.Hi])
		}
		return err
	})
	putSpanBuf(bp, dirty.Load())
	return err
}

// readPieces decrypts the chunks of span into p chunk by chunk, each with
// its own pread, in parallel.
func (f *File) readPieces(p []byte, span chunker.Span, size int64) error {
	return f.pipe.RunGrouped(context.Background(), int(span.Count()), f.group, func(k int) error {
		return f.readPiece(p, span.Piece(int64(k)), size)
	})
}

// spanBufs recycles the buffers of reads and writes of several chunks
// (up to a FUSE request of 1 MiB and its chunks' overhead). A buffer too
// small for a request is dropped for a bigger one.
var spanBufs sync.Pool

// getSpanBuf returns a buffer of n bytes with arbitrary contents.
func getSpanBuf(n int) *[]byte {
	if bp, _ := spanBufs.Get().(*[]byte); bp != nil && cap(*bp) >= n {
		*bp = (*bp)[:n]
		return bp
	}
	b := make([]byte, n)
	return &b
}

// putSpanBuf returns a span buffer, clearing it first if it may hold
// plaintext.
func putSpanBuf(bp *[]byte, dirty bool) {
	if dirty {
		clear(*bp)
	}
	spanBufs.Put(bp)
}

// readPiece decrypts one chunk's part of a read into p. A piece that
// covers its whole chunk is decrypted straight into p.
func (f *File) readPiece(p []byte, pc chunker.Piece, size int64) error {
	bp := f.bufs.Get()
	defer f.putBuf(bp, true)
	n := f.layout.ChunkLen(pc.Index, size)
	stored, err := f.readStored(pc.Index, n, *bp)
	if err != nil {
		return err
	}
	if pc.Full(n) {
		_, err := f.hdr.keys.openChunk(p[pc.BufOff:pc.BufOff], stored, &f.hdr.pre.FileID, pc.Index, f.mayBeHole(pc.Index, n, size))
		return err
	}
	pt, err := f.openStored(pc.Index, stored, size)
	if err != nil {
		return err
	}
	copy(p[pc.BufOff:], pt[pc.Lo:pc.Hi])
	return nil
}

// mayBeHole reports whether chunk i, holding n bytes in a file of size
// bytes, may be a hole: only full chunks that are not the last (FORMAT.md
// §6.3). In a short file every full chunk may be one: its true last chunk
// is missing (FORMAT.md §8).
func (f *File) mayBeHole(i int64, n int, size int64) bool {
	return n == f.layout.ChunkSize && (i < f.layout.NumChunks(size)-1 || f.short != nil)
}

// readStored reads the stored form of chunk i (n plaintext bytes) into buf.
func (f *File) readStored(i int64, n int, buf []byte) ([]byte, error) {
	off, err := f.layout.ChunkOffset(i)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTooLarge, err)
	}
	stored := buf[:n+ChunkOverhead]
	m, err := f.b.ReadAt(stored, off)
	if m == len(stored) {
		return stored, nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		return nil, &ChunkError{Index: i, Err: fmt.Errorf("%w: got %d of %d bytes", ErrTruncated, m, len(stored))}
	}
	return nil, fmt.Errorf("envelope: reading chunk %d: %w", i, err)
}

// openStored decrypts a stored chunk in place and returns its plaintext,
// which aliases stored.
func (f *File) openStored(i int64, stored []byte, size int64) ([]byte, error) {
	n := len(stored) - ChunkOverhead
	return f.hdr.keys.openChunk(stored[NonceSize:NonceSize], stored, &f.hdr.pre.FileID, i, f.mayBeHole(i, n, size))
}

// putBuf returns a scratch buffer, clearing it first if it may hold
// plaintext.
func (f *File) putBuf(bp *[]byte, dirty bool) {
	if dirty {
		clear(*bp)
	}
	f.bufs.Put(bp)
}

// WriteAt writes plaintext at off. Writing past the end extends the file;
// the chunks skipped over are holes. Before overwriting anything it
// preallocates the ciphertext range if the backing is a Preallocator. If
// an extending write fails, the file keeps its old size, on disk too; any
// failed write may have changed whole chunks of its range inside the old
// size.
func (f *File) WriteAt(p []byte, off int64) (int, error) {
	end, err := f.checkWrite(off, int64(len(p)))
	if err != nil || len(p) == 0 {
		return 0, err
	}
	f.mu.RLock()
	if !f.closed && end <= f.size {
		err := f.writeWithin(p, off)
		f.mu.RUnlock()
		return writeResult(len(p), err)
	}
	f.mu.RUnlock()
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case f.closed:
		return 0, ErrClosed
	case end <= f.size: // another writer extended the file meanwhile
		return writeResult(len(p), f.writeWithin(p, off))
	}
	return writeResult(len(p), f.extend(p, off))
}

func writeResult(n int, err error) (int, error) {
	if err != nil {
		return 0, err
	}
	return n, nil
}

// checkWrite validates a write or truncate range and returns its end.
func (f *File) checkWrite(off, n int64) (int64, error) {
	if off < 0 || n < 0 {
		return 0, fmt.Errorf("%w: write of %d bytes at %d", ErrInvalidOffset, n, off)
	}
	if max := f.layout.MaxPlainSize(); off > max-n {
		return 0, fmt.Errorf("%w: write of %d bytes at %d (max file size %d)", ErrTooLarge, n, off, max)
	}
	return off + n, nil
}

// writeWithin overwrites [off, off+len(p)) inside the current size. The
// caller holds mu (shared is enough): stripes serialize chunk writers.
func (f *File) writeWithin(p []byte, off int64) error {
	span, _ := f.layout.Span(off, int64(len(p))) // checked by checkWrite
	if err := f.preallocate(span.First, span.Last, f.size); err != nil {
		return err
	}
	mask := f.lockStripes(span, true)
	defer f.unlockStripes(mask, true)
	return f.sealSpan(span, f.size, f.size, p, off, nil)
}

// extend writes p at off where off+len(p) is past the end. The caller
// holds mu exclusively.
func (f *File) extend(p []byte, off int64) error {
	if err := f.settle(); err != nil {
		return err
	}
	if f.hdr == nil {
		if err := f.createHeader(context.Background()); err != nil {
			return err
		}
	}
	end := off + int64(len(p))
	span, _ := f.layout.Span(off, int64(len(p)))
	return f.grow(span, end, p, off)
}

// grow seals the chunks of span for a file growing from f.size to newSize,
// with p at off (p may be nil). The caller holds mu exclusively.
//
// If the old last chunk is partial and lies before span, it is padded
// with zeros first, because only the last chunk may be short (FORMAT.md
// §6.1); doing it first means a crash in between leaves a valid,
// zero-extended file. Chunks between the old end and span stay holes.
//
// If anything fails, undoGrow puts the file back to its old size, so that
// a short write (EIO, EDQUOT, a disk without fallocate) leaves no torn
// tail behind; f.size is never raised from the backing's state.
func (f *File) grow(span chunker.Span, newSize int64, p []byte, off int64) error {
	old := f.size
	save := f.newTailSave(old, span.First)
	defer f.releaseTailSave(save)
	if err := f.growChunks(span, old, newSize, p, off, save); err != nil {
		return f.undoGrow(old, save, err)
	}
	f.size = newSize
	return nil
}

// growChunks does the writes of grow.
func (f *File) growChunks(span chunker.Span, old, newSize int64, p []byte, off int64, save *tailSave) error {
	if err := f.preallocate(span.First, span.Last, newSize); err != nil {
		return err
	}
	if old%int64(f.layout.ChunkSize) != 0 && save.index < span.First {
		if err := f.preallocate(save.index, save.index, newSize); err != nil {
			return err
		}
		if err := f.sealChunk(save.index, old, newSize, nil, 0, save); err != nil {
			return err
		}
	}
	return f.sealSpan(span, old, newSize, p, off, save)
}

// tailSave keeps the plaintext of the old last chunk of a growing file,
// read just before the grow overwrites that chunk in place, so that a
// failed grow can put it back. Other chunks inside the old size that a
// failed write covered hold the old or the new data, or, if their own
// write tore, fail to authenticate, as after any failed write inside the
// file (FORMAT.md §9).
type tailSave struct {
	index int64
	bp    *[]byte // pooled; the plaintext sits at (*bp)[NonceSize:], ready to seal
	n     int     // plaintext bytes saved; 0 until sealChunk saved them
}

// newTailSave returns a tailSave for the last chunk of a file of size
// bytes growing by a span that starts at chunk first, or nil if the grow
// does not rewrite that chunk: there is none, or it is full and before
// first. A partial last chunk is always rewritten (padded, or extended).
func (f *File) newTailSave(size, first int64) *tailSave {
	last := f.layout.NumChunks(size) - 1
	if last < 0 || (size%int64(f.layout.ChunkSize) == 0 && last < first) {
		return nil
	}
	return &tailSave{index: last, bp: f.bufs.Get()}
}

func (f *File) releaseTailSave(s *tailSave) {
	if s != nil {
		f.putBuf(s.bp, true)
	}
}

// of returns s if it is the save for chunk i, else nil.
func (s *tailSave) of(i int64) *tailSave {
	if s != nil && s.index == i {
		return s
	}
	return nil
}

// undoGrow puts the file back to its old size after a failed grow: it
// cuts the backing to the old ciphertext size (the header stays, even for
// old == 0) and re-seals the saved old last chunk, which the grow may have
// overwritten in place. It returns cause, joined with any error of its own.
func (f *File) undoGrow(old int64, save *tailSave, cause error) error {
	cs, err := f.layout.CipherSize(old)
	if err == nil {
		err = f.b.Truncate(cs)
	}
	if err == nil && save != nil && save.n > 0 {
		err = f.writeSealed(save.index, *save.bp, save.n)
	}
	if err != nil {
		return errors.Join(cause, fmt.Errorf("envelope: undoing a failed write: %w", err))
	}
	return cause
}

// preallocate reserves the ciphertext of chunks [first, last] of a file of
// size bytes, if the backing supports it.
func (f *File) preallocate(first, last, size int64) error {
	pa, ok := f.b.(Preallocator)
	if !ok || last < first {
		return nil
	}
	start, err := f.layout.ChunkOffset(first)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrTooLarge, err)
	}
	end, _ := f.layout.ChunkOffset(last)
	end += int64(f.layout.ChunkLen(last, size)) + ChunkOverhead
	if err := pa.Preallocate(start, end-start); err != nil {
		return fmt.Errorf("envelope: preallocating %d bytes at %d: %w", end-start, start, err)
	}
	return nil
}

// sealSpan seals every chunk of span in parallel. save, if not nil, is
// handed to the chunk it belongs to. Several chunks are sealed side by
// side in one buffer, as they lie in the backing file, and written with
// one pwrite; their nonces come from one random read.
func (f *File) sealSpan(span chunker.Span, oldSize, newSize int64, p []byte, off int64, save *tailSave) error {
	if span.Count() == 1 {
		return f.sealChunk(span.First, oldSize, newSize, p, off, save.of(span.First))
	}
	start, err := f.layout.ChunkOffset(span.First)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrTooLarge, err)
	}
	// Every chunk of the span but its last is full in the new size, so
	// the sealed chunks lie back to back as in the file. Each is staged
	// in a stride of its own, the last too (sealInto needs room for the
	// longer of its old and new plaintext). The nonces follow the strides.
	count, stride := int(span.Count()), int(f.layout.StoredChunkSize())
	bp := getSpanBuf(count * (stride + NonceSize))
	buf, nonces := (*bp)[:count*stride], (*bp)[count*stride:]
	err = freshNonces(f.rand, nonces)
	if err == nil {
		err = f.pipe.RunGrouped(context.Background(), count, f.group, func(k int) error {
			i := span.First + int64(k)
			_, err := f.sealInto(buf[k*stride:(k+1)*stride], i, oldSize, newSize, p, off, save.of(i), nonces[k*NonceSize:(k+1)*NonceSize])
			return err
		})
	}
	if err == nil {
		total := (count-1)*stride + f.layout.ChunkLen(span.Last, newSize) + ChunkOverhead
		if _, werr := f.b.WriteAt(buf[:total], start); werr != nil {
			err = fmt.Errorf("envelope: writing chunks %d to %d: %w", span.First, span.Last, werr)
		}
	}
	// Sealed in place, the buffer holds only ciphertext unless a chunk
	// failed half-way.
	putSpanBuf(bp, err != nil)
	return err
}

// sealChunk rewrites chunk i of a file going from oldSize to newSize
// bytes: old content where kept, p where [off, off+len(p)) covers the
// chunk, zeros elsewhere (see sealInto), and writes it in place.
func (f *File) sealChunk(i, oldSize, newSize int64, p []byte, off int64, save *tailSave) error {
	bp := f.bufs.Get()
	stored, err := f.sealInto(*bp, i, oldSize, newSize, p, off, save, nil)
	if err == nil {
		err = f.writeStored(i, stored)
	}
	f.putBuf(bp, err != nil)
	return err
}

// sealInto seals chunk i of a file going from oldSize to newSize bytes
// into buf (one stored chunk long) and returns the stored chunk, which
// starts at buf[0]. It reads and decrypts the old chunk only if some of
// its bytes survive (read-modify-write), or if save asks for a copy of
// them. A chunk that p covers whole is sealed straight from p. nonce is
// the chunk's nonce, or nil to draw one. On error buf may hold plaintext.
func (f *File) sealInto(buf []byte, i, oldSize, newSize int64, p []byte, off int64, save *tailSave, nonce []byte) ([]byte, error) {
	start := i * int64(f.layout.ChunkSize)
	newLen := f.layout.ChunkLen(i, newSize)
	oldLen := f.layout.ChunkLen(i, oldSize)
	lo := int(min(max(off-start, 0), int64(newLen)))
	hi := int(min(max(off+int64(len(p))-start, 0), int64(newLen)))
	if lo == 0 && hi == newLen && save == nil {
		return f.hdr.keys.sealChunkFrom(buf, p[start-off:][:newLen], &f.hdr.pre.FileID, i, nonce, f.rand)
	}
	pt := buf[NonceSize : NonceSize+max(newLen, oldLen)]
	keep := min(oldLen, newLen)
	if keep > 0 && (lo > 0 || hi < keep || save != nil) {
		if err := f.loadOld(i, oldLen, oldSize, buf, save); err != nil {
			return nil, err
		}
	} else {
		keep = 0
	}
	if lo > keep {
		clear(pt[keep:lo])
	}
	if z := max(hi, keep); z < newLen {
		clear(pt[z:newLen])
	}
	if hi > lo {
		copy(pt[lo:hi], p[start+int64(lo)-off:])
	}
	return f.hdr.keys.sealChunkFrom(buf, pt[:newLen], &f.hdr.pre.FileID, i, nonce, f.rand)
}

// loadOld reads chunk i (n plaintext bytes in a file of size bytes) and
// decrypts it in place, so its plaintext is at buf[NonceSize:]; with save
// set it also keeps a copy there.
func (f *File) loadOld(i int64, n int, size int64, buf []byte, save *tailSave) error {
	stored, err := f.readStored(i, n, buf)
	if err == nil {
		_, err = f.openStored(i, stored, size)
	}
	if err == nil && save != nil {
		save.n = copy((*save.bp)[NonceSize:], buf[NonceSize:NonceSize+n])
	}
	return err
}

// writeSealed seals the n plaintext bytes at buf[NonceSize:] as chunk i
// and writes them in place.
func (f *File) writeSealed(i int64, buf []byte, n int) error {
	stored, err := f.hdr.keys.sealChunkFrom(buf, buf[NonceSize:NonceSize+n], &f.hdr.pre.FileID, i, nil, f.rand)
	if err != nil {
		return err
	}
	return f.writeStored(i, stored)
}

// writeStored writes stored chunk i in place.
func (f *File) writeStored(i int64, stored []byte) error {
	off, err := f.layout.ChunkOffset(i)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrTooLarge, err)
	}
	if _, err := f.b.WriteAt(stored, off); err != nil {
		return fmt.Errorf("envelope: writing chunk %d: %w", i, err)
	}
	return nil
}

// stripeMask returns the set of stripes covering span's chunks.
func stripeMask(span chunker.Span) uint64 {
	if span.Count() >= numStripes {
		return ^uint64(0)
	}
	var mask uint64
	for i := span.First; i <= span.Last; i++ {
		mask |= 1 << uint(i%numStripes)
	}
	return mask
}

// lockStripes locks the stripes of span's chunks in ascending order.
func (f *File) lockStripes(span chunker.Span, write bool) uint64 {
	mask := stripeMask(span)
	for m := mask; m != 0; m &= m - 1 {
		s := &f.stripes[bits.TrailingZeros64(m)]
		if write {
			s.Lock()
		} else {
			s.RLock()
		}
	}
	return mask
}

func (f *File) unlockStripes(mask uint64, write bool) {
	for m := mask; m != 0; m &= m - 1 {
		s := &f.stripes[bits.TrailingZeros64(m)]
		if write {
			s.Unlock()
		} else {
			s.RUnlock()
		}
	}
}
