package envelope_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/kmsfs/kmsfs/envelope"
	"github.com/kmsfs/kmsfs/internal/memfile"
)

// benchChunkSizes are the chunk sizes the File benchmarks compare (issue
// 10: the default chunk size is chosen from them).
var benchChunkSizes = []int{4 << 10, 16 << 10, 64 << 10}

// benchRequests are the request sizes of the sequential File benchmarks:
// a 128 KiB write (dd's and the kernel's readahead size) and FUSE's
// largest request.
var benchRequests = []int{128 << 10, 1 << 20}

// benchFileSpan is how far the sequential benchmarks run before they wrap
// to offset 0; it bounds the in-memory backing.
const benchFileSpan = 16 << 20

// BenchmarkFileWriteAt overwrites a file sequentially in whole requests, in
// memory, so that it measures what a chunk costs above AES-GCM: nonces,
// AAD, locks, the pipeline and copies.
func BenchmarkFileWriteAt(b *testing.B) {
	benchFileSequential(b, (*envelope.File).WriteAt)
}

// BenchmarkFileReadAt reads a file sequentially in whole requests, in
// memory.
func BenchmarkFileReadAt(b *testing.B) {
	benchFileSequential(b, (*envelope.File).ReadAt)
}

func benchFileSequential(b *testing.B, op func(*envelope.File, []byte, int64) (int, error)) {
	for _, req := range benchRequests {
		for _, c := range benchChunkSizes {
			b.Run(fmt.Sprintf("req=%d/chunk=%d", req, c), func(b *testing.B) {
				f := benchFile(b, c, benchFileSpan)
				p := make([]byte, req)
				b.SetBytes(int64(req))
				b.ReportAllocs()
				var off int64
				for b.Loop() {
					if _, err := op(f, p, off); err != nil {
						b.Fatal(err)
					}
					off = (off + int64(req)) % benchFileSpan
				}
			})
		}
	}
}

// benchFile returns a File of size bytes with chunk size c in memory.
func benchFile(b *testing.B, c int, size int) *envelope.File {
	b.Helper()
	f, err := envelope.Create(context.Background(), &memfile.File{}, newKMS(b, 1), c)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Close() })
	if _, err := f.WriteAt(make([]byte, size), 0); err != nil {
		b.Fatal(err)
	}
	return f
}
