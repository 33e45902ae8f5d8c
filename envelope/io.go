package envelope

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/bits"

	"github.com/kmsfs/kmsfs/chunker"
)

// ReadAt reads plaintext at off, with io.ReaderAt semantics: it returns
// io.EOF with fewer than len(p) bytes at the end of the file. A chunk that
// fails to authenticate makes it return a *ChunkError wrapping
// ErrUnauthenticated; reads of other chunks are unaffected.
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
		return 0, io.EOF
	}
	n := min(int64(len(p)), f.size-off)
	span, err := f.layout.Span(off, n)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrTooLarge, err)
	}
	mask := f.lockStripes(span, false)
	defer f.unlockStripes(mask, false)
	if err := f.readSpan(p, span); err != nil {
		return 0, err
	}
	if n < int64(len(p)) {
		return int(n), io.EOF
	}
	return int(n), nil
}

// readSpan decrypts the chunks of span into p, in parallel if there are
// several (a single chunk skips the pipeline and its closure).
func (f *File) readSpan(p []byte, span chunker.Span) error {
	size := f.size
	if span.Count() == 1 {
		return f.readPiece(p, span.Piece(0), size)
	}
	return f.pipe.Run(context.Background(), int(span.Count()), func(k int) error {
		return f.readPiece(p, span.Piece(int64(k)), size)
	})
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
// bytes, may be a hole: only full chunks that are not the last (FORMAT.md,
// "Holes").
func (f *File) mayBeHole(i int64, n int, size int64) bool {
	return n == f.layout.ChunkSize && i < f.layout.NumChunks(size)-1
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
// preallocates the ciphertext range if the backing is a Preallocator.
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
	return f.sealSpan(span, f.size, f.size, p, off)
}

// extend writes p at off where off+len(p) is past the end. The caller
// holds mu exclusively.
func (f *File) extend(p []byte, off int64) error {
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
// with zeros first, because only the last chunk may be short (FORMAT.md,
// "Chunks"); doing it first means a crash in between leaves a valid,
// zero-extended file. Chunks between the old end and span stay holes.
func (f *File) grow(span chunker.Span, newSize int64, p []byte, off int64) error {
	old := f.size
	lastOld := f.layout.NumChunks(old) - 1
	err := f.preallocate(span.First, span.Last, newSize)
	if err == nil && old%int64(f.layout.ChunkSize) != 0 && lastOld < span.First {
		err = f.preallocate(lastOld, lastOld, newSize)
		if err == nil {
			err = f.sealChunk(lastOld, old, newSize, nil, 0)
		}
	}
	if err == nil {
		err = f.sealSpan(span, old, newSize, p, off)
	}
	if err != nil {
		f.resyncSize()
		return err
	}
	f.size = newSize
	return nil
}

// resyncSize resets the in-memory size from the backing after a failed
// extending write, so that it matches what reached the ciphertext file.
func (f *File) resyncSize() {
	s, err := backingSize(f.b)
	if err != nil {
		return
	}
	if plain, _ := PlaintextSize(s, f.layout.ChunkSize); plain >= f.size {
		f.size = plain
	}
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

// sealSpan seals every chunk of span in parallel.
func (f *File) sealSpan(span chunker.Span, oldSize, newSize int64, p []byte, off int64) error {
	if span.Count() == 1 {
		return f.sealChunk(span.First, oldSize, newSize, p, off)
	}
	return f.pipe.Run(context.Background(), int(span.Count()), func(k int) error {
		return f.sealChunk(span.First+int64(k), oldSize, newSize, p, off)
	})
}

// sealChunk rewrites chunk i of a file going from oldSize to newSize
// bytes: old content where kept, p where [off, off+len(p)) covers the
// chunk, zeros elsewhere. It reads and decrypts the old chunk only if some
// of its bytes survive (read-modify-write).
func (f *File) sealChunk(i, oldSize, newSize int64, p []byte, off int64) error {
	start := i * int64(f.layout.ChunkSize)
	newLen := f.layout.ChunkLen(i, newSize)
	oldLen := f.layout.ChunkLen(i, oldSize)
	lo := int(min(max(off-start, 0), int64(newLen)))
	hi := int(min(max(off+int64(len(p))-start, 0), int64(newLen)))
	bp := f.bufs.Get()
	buf := *bp
	pt := buf[NonceSize : NonceSize+max(newLen, oldLen)]
	keep := min(oldLen, newLen)
	if keep > 0 && (lo > 0 || hi < keep) {
		stored, err := f.readStored(i, oldLen, buf)
		if err == nil {
			_, err = f.openStored(i, stored, oldSize)
		}
		if err != nil {
			f.putBuf(bp, true)
			return err
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
	err := f.writeSealed(i, buf, newLen)
	f.putBuf(bp, err != nil)
	return err
}

// writeSealed seals the n plaintext bytes at buf[NonceSize:] as chunk i
// and writes them in place.
func (f *File) writeSealed(i int64, buf []byte, n int) error {
	stored, err := f.hdr.keys.sealChunk(buf, n, &f.hdr.pre.FileID, i, f.rand)
	if err != nil {
		return err
	}
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
