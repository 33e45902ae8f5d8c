package envelope

import (
	"context"
	"errors"
	"fmt"
)

// Truncate changes the plaintext size. Growing leaves holes and seals a
// zero last chunk. Shrinking first commits the smaller size floor to the
// header and syncs it, then shrinks the body, so that a crash in between
// is never mistaken for truncation (FORMAT.md, "Truncation detection").
// Truncate(0) removes the header as well: an empty ciphertext file is a
// valid empty file, and the next write creates a fresh header with a new
// DEK and file ID.
func (f *File) Truncate(size int64) error {
	if _, err := f.checkWrite(size, 0); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case f.closed:
		return ErrClosed
	case size == f.size && f.short == nil:
		return nil
	case size == 0:
		return f.truncateToZero()
	case size == f.size:
		return f.settle()
	case size > f.size:
		return f.truncateGrow(size)
	}
	return f.truncateShrink(size)
}

// settle ends the short state (FORMAT.md §8) before the size changes: the
// data present becomes the file. It lowers the size floor to the present
// size (synced), seals the last chunk if it is a hole, and cuts the torn
// fragment, like a shrink to the present size. The caller holds mu
// exclusively.
func (f *File) settle() error {
	if f.short == nil {
		return nil
	}
	if f.size == 0 {
		return f.truncateToEmpty()
	}
	return f.truncateShrink(f.size)
}

// truncateToEmpty makes a short file of 0 bytes present a valid
// header-only file: floor 0 (synced), then the fragment cut.
func (f *File) truncateToEmpty() error {
	if err := f.lowerFloor(0); err != nil {
		return err
	}
	if err := f.b.Truncate(HeaderSize); err != nil {
		return fmt.Errorf("envelope: truncating backing file: %w", err)
	}
	f.short = nil
	return nil
}

// truncateToZero empties the backing and forgets the header.
func (f *File) truncateToZero() error {
	if err := f.b.Truncate(0); err != nil {
		return fmt.Errorf("envelope: truncating backing file: %w", err)
	}
	if f.hdr != nil {
		f.hdr.keys.wipe()
		f.hdr = nil
	}
	f.size, f.short = 0, nil
	return nil
}

// truncateGrow extends the file to size with zeros.
func (f *File) truncateGrow(size int64) error {
	if err := f.settle(); err != nil {
		return err
	}
	if f.hdr == nil {
		if err := f.createHeader(context.Background()); err != nil {
			return err
		}
	}
	span, _ := f.layout.Span(size-1, 1) // only the new last chunk is sealed
	return f.grow(span, size, nil, size)
}

// truncateShrink cuts the file to 0 < size < f.size, or, for a short
// file, to 0 < size <= f.size; the file is no longer short afterwards.
func (f *File) truncateShrink(size int64) error {
	if err := f.lowerFloor(size); err != nil {
		return err
	}
	if err := f.sealNewLast(size); err != nil {
		return err
	}
	cs, err := f.layout.CipherSize(size)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrTooLarge, err)
	}
	if err := f.b.Truncate(cs); err != nil {
		return fmt.Errorf("envelope: truncating backing file: %w", err)
	}
	f.size, f.short = size, nil
	return nil
}

// sealNewLast re-seals the chunk that becomes the last one at size, if it
// must change: the cut is inside it (it gets shorter), or it is a hole
// (only a chunk that is not the last may be one, FORMAT.md §6.3).
func (f *File) sealNewLast(size int64) error {
	last := f.layout.NumChunks(size) - 1
	if last < 0 {
		return nil
	}
	if n := f.layout.ChunkLen(last, size); n == f.layout.ChunkLen(last, f.size) {
		if n < f.layout.ChunkSize {
			return nil // unchanged, and a short chunk is never a hole
		}
		hole, err := f.isHole(last)
		if err != nil || !hole {
			return err
		}
	}
	err := f.preallocate(last, last, size) // copy-on-write filesystems need fresh space
	if err == nil {
		err = f.sealChunk(last, f.size, size, nil, size, nil)
	}
	return err
}

// isHole reports whether the full chunk i is stored as all zeros.
func (f *File) isHole(i int64) (bool, error) {
	bp := f.bufs.Get()
	defer f.putBuf(bp, false)
	stored, err := f.readStored(i, f.layout.ChunkSize, *bp)
	if err != nil {
		return false, err
	}
	return isZero(stored), nil
}

// lowerFloor commits a size floor below the current one, durably, before
// the body shrinks.
func (f *File) lowerFloor(size int64) error {
	f.hmu.Lock()
	defer f.hmu.Unlock()
	if size >= f.hdr.committed() {
		return nil
	}
	next := f.hdr.slot
	next.CommittedSize = uint64(size)
	if err := f.hdr.commit(f.b, next); err != nil {
		return err
	}
	return f.syncBacking()
}

// raiseFloor commits the current size as the size floor if it grew. With
// durable set it first syncs the body, so that the header never promises
// data that a crash could lose. A short file keeps its header as it is
// until a write or truncate settles it (FORMAT.md §8). The caller holds mu.
func (f *File) raiseFloor(durable bool) error {
	f.hmu.Lock()
	defer f.hmu.Unlock()
	if !f.floorBehind() {
		return nil
	}
	if durable {
		if err := f.syncBacking(); err != nil {
			return err
		}
	}
	next := f.hdr.slot
	next.CommittedSize = uint64(f.size)
	return f.hdr.commit(f.b, next)
}

// floorBehind reports whether the size grew past the committed size floor
// of a file that is not short: what raiseFloor commits. The caller holds
// mu and hmu.
func (f *File) floorBehind() bool {
	return f.hdr != nil && f.short == nil && f.size > f.hdr.committed()
}

// Uncommitted reports whether Flush, Sync or Close would rewrite the
// header: the file grew past its committed size floor and is not short. A
// caller that holds off writes and size changes meanwhile (Flush from
// another goroutine may still commit) can skip what it does around a
// header write, such as restoring the mtime.
func (f *File) Uncommitted() bool {
	f.mu.RLock()
	defer f.mu.RUnlock()
	f.hmu.Lock()
	defer f.hmu.Unlock()
	return !f.closed && f.floorBehind()
}

func (f *File) syncBacking() error {
	if err := f.b.Sync(); err != nil {
		return fmt.Errorf("envelope: syncing backing file: %w", err)
	}
	return nil
}

// Sync makes the file durable. If the file grew past its committed size it
// syncs the body, commits the new size floor to the header, and syncs
// again; otherwise it syncs once.
func (f *File) Sync() error {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.closed {
		return ErrClosed
	}
	if err := f.raiseFloor(true); err != nil {
		return err
	}
	return f.syncBacking()
}

// Flush commits the size floor if the file grew, without syncing, and
// keeps the file open. The filesystem calls it when a program closes a
// handle: the header write then happens before the program's next step
// (rsync sets the mtime right after close), not at a later release where
// it would move the backing file's mtime past the one the program set.
func (f *File) Flush() error {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.closed {
		return ErrClosed
	}
	return f.raiseFloor(false)
}

// Close commits the size floor if the file grew (without syncing: a crash
// soon after Close may then report the file as truncated, which is true:
// data was lost), zeroes the keys, and makes further calls fail with
// ErrClosed. It does not close the backing file.
func (f *File) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return ErrClosed
	}
	f.closed = true
	err := f.raiseFloor(false)
	if f.hdr != nil {
		f.hdr.keys.wipe()
	}
	f.dropPending()
	return err
}

// Rewrap wraps the file's DEK again with w and, if w used a different
// master key version than the current slot names (or the other slot may
// still hold an older wrap), writes the new wrapping into both header
// slots, one after the other with a sync after each (FORMAT.md §4.5,
// §5.3): afterwards no slot holds the DEK wrapped under the old version.
// The body is not touched. w also becomes the wrapper for a header created
// later (after Truncate(0)). It reports whether the header changed.
func (f *File) Rewrap(ctx context.Context, w KeyWrapper) (changed bool, err error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.closed {
		return false, ErrClosed
	}
	f.hmu.Lock()
	defer f.hmu.Unlock()
	f.w = w
	if f.hdr == nil {
		// A pending header (CreateDeferred) holds a wrap under the old
		// key version: the first write makes a new one under w instead.
		f.dropPendingLocked()
		return false, nil
	}
	changed, err = rewrapHeader(ctx, f.hdr, f.b, w)
	if err != nil || !changed {
		return false, err
	}
	return true, f.syncBacking()
}

// rewrapHeader wraps h's DEK with w. If w used another key reference than
// the current slot names, or the other slot may still hold an older wrap,
// it writes the new wrapping into both slots, so that no slot keeps the
// DEK wrapped under the old master key version (FORMAT.md §5.3): first as
// a new current slot in the other position, synced so that it is the valid
// slot whatever happens next, then as a mirror over the old current slot.
// It does not sync after the mirror; the caller does.
func rewrapHeader(ctx context.Context, h *header, b Backing, w KeyWrapper) (bool, error) {
	ref, wrapped, err := w.WrapKey(ctx, h.keys.dek, h.preBytes)
	if err != nil {
		return false, fmt.Errorf("envelope: rewrapping data key: %w", err)
	}
	if ref == h.slot.KeyRef && h.otherClean {
		return false, nil
	}
	next := h.slot
	next.KeyRef, next.WrappedKey = ref, wrapped
	if err := h.commit(b, next); err != nil {
		return false, err
	}
	if h.otherClean {
		return true, nil // the old current slot was already under ref
	}
	if err := b.Sync(); err != nil { // FORMAT.md §4.5: the new slot first
		return true, fmt.Errorf("envelope: syncing backing file: %w", err)
	}
	return true, h.mirror(b)
}

// dropPending wipes and forgets the pending header, if any. The caller
// holds mu.
func (f *File) dropPending() {
	f.hmu.Lock()
	defer f.hmu.Unlock()
	f.dropPendingLocked()
}

// dropPendingLocked is dropPending with hmu held.
func (f *File) dropPendingLocked() {
	if f.pending != nil {
		f.pending.keys.wipe()
		f.pending = nil
	}
}

// WriteAtFloor is WriteAt, except for the first write into a file that has
// no header yet (an empty file, such as one from CreateDeferred): a write
// at offset 0 of at most one chunk writes the header, with the size floor
// already at the new size, and the sealed chunk in one write. Flush, Sync
// and Close then have nothing to commit, so a file written once and closed
// costs one backing write and needs no mtime repair; and a crash of the
// writer leaves the file empty, or whole with its floor. Other writes are
// WriteAt's.
func (f *File) WriteAtFloor(p []byte, off int64) (int, error) {
	if off != 0 || len(p) == 0 || len(p) > f.layout.ChunkSize {
		return f.WriteAt(p, off)
	}
	f.mu.RLock()
	first := f.empty()
	f.mu.RUnlock()
	if !first {
		return f.WriteAt(p, off)
	}
	f.mu.Lock()
	if !f.empty() { // another write came first
		f.mu.Unlock()
		return f.WriteAt(p, off)
	}
	defer f.mu.Unlock()
	return writeResult(len(p), f.writeFirst(p))
}

// empty reports whether the file is open, without a header and of size 0.
// The caller holds mu.
func (f *File) empty() bool {
	return !f.closed && f.hdr == nil && f.size == 0 && f.short == nil
}

// writeFirst writes the header of an empty file, slot A committing
// len(p) bytes (FORMAT.md §8: no later commit is needed), and p sealed as
// chunk 0, with one write at offset 0. Nothing of the file is overwritten,
// so nothing is preallocated; a failed write is undone by truncating b
// back to empty, a valid empty file (FORMAT.md §2.1). The caller holds mu
// exclusively, and 0 < len(p) <= ChunkSize.
func (f *File) writeFirst(p []byte) error {
	h, err := f.newHeader(context.Background())
	if err != nil {
		return err
	}
	bp := getSpanBuf(HeaderSize + len(p) + ChunkOverhead)
	buf := *bp
	h.slot.CommittedSize = uint64(len(p))
	err = h.encodeNew(buf[:HeaderSize])
	if err == nil {
		_, err = h.keys.sealChunkFrom(buf[HeaderSize:], p, &h.pre.FileID, 0, nil, f.rand)
	}
	if err == nil {
		if _, werr := f.b.WriteAt(buf, 0); werr != nil {
			err = fmt.Errorf("envelope: writing header and chunk 0: %w", werr)
			if terr := f.b.Truncate(0); terr != nil {
				err = errors.Join(err, fmt.Errorf("envelope: undoing a failed write: %w", terr))
			}
		}
	}
	putSpanBuf(bp, false) // sealed from p: header and ciphertext only
	if err != nil {
		h.keys.wipe()
		return err
	}
	f.hdr, f.size = h, int64(len(p))
	return nil
}
