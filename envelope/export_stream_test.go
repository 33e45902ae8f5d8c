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
