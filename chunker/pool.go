package chunker

import (
	"fmt"
	"sync"
)

// BufferPool recycles byte slices of one fixed size, typically one stored
// chunk, so that reads and writes do not allocate a chunk per request.
// Buffers are handed out as *[]byte so that putting them back does not
// allocate (see sync.Pool).
type BufferPool struct {
	size int
	pool sync.Pool
}

// NewBufferPool returns a pool of size-byte buffers.
func NewBufferPool(size int) *BufferPool {
	if size <= 0 {
		panic(fmt.Sprintf("chunker: internal error: buffer size %d", size))
	}
	p := &BufferPool{size: size}
	p.pool.New = func() any {
		b := make([]byte, size)
		return &b
	}
	return p
}

// Size is the length of every buffer in the pool.
func (p *BufferPool) Size() int { return p.size }

// Get returns a buffer of length Size. Its contents are arbitrary: a
// previous user's bytes may still be in it.
func (p *BufferPool) Get() *[]byte {
	b := p.pool.Get().(*[]byte)
	*b = (*b)[:p.size]
	return b
}

// Put returns b to the pool. Callers that held plaintext in b clear it
// first; the pool does not, because most buffers hold only ciphertext.
func (p *BufferPool) Put(b *[]byte) {
	if b == nil || cap(*b) < p.size {
		return
	}
	p.pool.Put(b)
}
