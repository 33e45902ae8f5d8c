package envelope

import (
	"context"
	"io"
)

// Test hooks for the black-box tests in package envelope_test: the same
// constructors with injected randomness (for reproducible vectors) and a
// fixed number of pipeline workers.

func CreateWith(ctx context.Context, b Backing, w KeyWrapper, chunkSize int, rand io.Reader, workers int) (*File, error) {
	return create(ctx, b, w, chunkSize, options{rand: rand, workers: workers})
}

func OpenWith(ctx context.Context, b Backing, ks KeyService, chunkSize int, rand io.Reader, workers int) (*File, error) {
	return open(ctx, b, ks, chunkSize, options{rand: rand, workers: workers})
}

func NewWriterWith(ctx context.Context, w io.Writer, kw KeyWrapper, chunkSize int, rand io.Reader) (*Writer, error) {
	return newWriter(ctx, w, kw, chunkSize, options{rand: rand})
}

// DEK exposes a File's data key so vector tests can check the "dek:" line.
func (f *File) DEK() []byte {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.hdr == nil {
		return nil
	}
	return append([]byte(nil), f.hdr.keys.dek...)
}

// CommitExtensions writes a new header slot with the given extensions, so
// tests can build headers this version does not write itself.
func (f *File) CommitExtensions(exts []Extension) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hmu.Lock()
	defer f.hmu.Unlock()
	next := f.hdr.slot
	next.Extensions = exts
	return f.hdr.commit(f.b, next)
}
