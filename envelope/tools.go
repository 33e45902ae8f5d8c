package envelope

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
)

// maxVerifyErrors caps how many damaged chunks Verify lists.
const maxVerifyErrors = 100

// ReadHeader reads and authenticates the header of the ciphertext file in
// b, for fsck and inspection tools. An empty file has no header: it fails
// with ErrNoHeader.
func ReadHeader(ctx context.Context, b Backing, u KeyUnwrapper) (*Header, error) {
	size, err := backingSize(b)
	if err != nil {
		return nil, err
	}
	if size == 0 {
		return nil, ErrNoHeader
	}
	h, err := loadHeader(ctx, b, size, u)
	if err != nil {
		return nil, err
	}
	defer h.keys.wipe()
	return h.public(), nil
}

// RewrapFile rewraps the DEK of the ciphertext file in b with w, touching
// only the header (for `kmsfs rewrap`, with the file not open elsewhere).
// It unwraps with ks, wraps with w, and if the key version changed (or the
// other slot may still hold an older wrap) writes the new wrapping into
// both slots, so that no slot keeps the old one (FORMAT.md §5.3). It
// always syncs between the two slot writes, because the second overwrites
// the slot that was valid before; sync adds a final sync after the second
// (callers that sync anyway, after restoring times, pass false). An empty
// file has nothing to rewrap: changed is false and the refs are zero.
func RewrapFile(ctx context.Context, b Backing, ks KeyService, w KeyWrapper, sync bool) (changed bool, old, new KeyRef, err error) {
	size, err := backingSize(b)
	if err != nil || size == 0 {
		return false, KeyRef{}, KeyRef{}, err
	}
	h, err := loadHeader(ctx, b, size, ks)
	if err != nil {
		return false, KeyRef{}, KeyRef{}, err
	}
	defer h.keys.wipe()
	old = h.slot.KeyRef
	changed, err = rewrapHeader(ctx, h, b, w)
	if err != nil || !changed {
		return false, old, old, err
	}
	if sync {
		if err := b.Sync(); err != nil {
			return false, old, old, fmt.Errorf("envelope: syncing backing file: %w", err)
		}
	}
	return true, old, h.slot.KeyRef, nil
}

// Verify checks the ciphertext file in b: header, size floor, torn tail,
// and (unless quick) that every chunk authenticates. Damaged chunks are
// reported together, as *ChunkError values joined with errors.Join (at most
// maxVerifyErrors of them), so errors.Is and errors.As work on the result.
// An empty file is valid.
func Verify(ctx context.Context, b Backing, u KeyUnwrapper, quick bool) error {
	size, err := backingSize(b)
	if err != nil || size == 0 {
		return err
	}
	h, err := loadHeader(ctx, b, size, u)
	if err != nil {
		return err
	}
	defer h.keys.wipe()
	plain, err := checkedPlainSize(h, size)
	if err != nil || quick {
		return err
	}
	f := newFile(b, nil, int(h.pre.ChunkSize), options{})
	f.hdr, f.size = h, plain
	return f.verifyChunks(ctx)
}

// verifyChunks authenticates every chunk, in parallel, collecting failures.
// Each pipeline task checks a span of contiguous chunks (verifySpan).
func (f *File) verifyChunks(ctx context.Context) error {
	var v verifyErrs
	n := f.layout.NumChunks(f.size)
	per := f.verifySpanChunks(n)
	err := f.pipe.Run(ctx, int((n+per-1)/per), func(t int) error {
		first := int64(t) * per
		return f.verifySpan(ctx, first, min(first+per, n)-1, &v)
	})
	if err != nil {
		return err
	}
	slices.SortFunc(v.errs, func(a, b error) int {
		return cmp.Compare(ChunkIndex(a), ChunkIndex(b))
	})
	return errors.Join(v.errs...)
}

// ChunkIndex returns the index of the chunk err is about (the Index of a
// [ChunkError] in its chain), or -1 when err is about no chunk.
func ChunkIndex(err error) int64 {
	var ce *ChunkError
	if errors.As(err, &ce) {
		return ce.Index
	}
	return -1
}

// verifyChunk authenticates chunk i; nil for a valid chunk or a hole.
func (f *File) verifyChunk(i int64) error {
	bp := f.bufs.Get()
	defer f.putBuf(bp, true)
	stored, err := f.readStored(i, f.layout.ChunkLen(i, f.size), *bp)
	if err == nil {
		_, err = f.openStored(i, stored, f.size)
	}
	return err
}
