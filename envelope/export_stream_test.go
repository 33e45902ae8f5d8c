package envelope

import (
	"context"
	"io"
)

// NewStreamWriterWith is NewStreamWriter with injected randomness, for
// reproducible stream vectors.
func NewStreamWriterWith(ctx context.Context, w io.Writer, kw KeyWrapper, chunkSize int, rand io.Reader) (*Writer, error) {
	return newStreamWriter(ctx, w, kw, chunkSize, options{rand: rand})
}

// NewStreamWriterWorkers is NewStreamWriterWith sealing on the given
// number of workers, whatever GOMAXPROCS is.
func NewStreamWriterWorkers(ctx context.Context, w io.Writer, kw KeyWrapper, chunkSize int, rand io.Reader, workers int) (*Writer, error) {
	return newStreamWriter(ctx, w, kw, chunkSize, options{rand: rand, workers: workers})
}
