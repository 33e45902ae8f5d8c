package envelope

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/kmsfs/kmsfs/chunker"
)

// Backing is the ciphertext file under a File; *os.File satisfies it.
type Backing interface {
	io.ReaderAt
	io.WriterAt
	Truncate(size int64) error
	Sync() error
	Stat() (os.FileInfo, error)
}

// Preallocator is optionally implemented by a Backing. File calls
// Preallocate for the ciphertext range of a write before overwriting any
// byte of it, so that a full disk fails the write with ENOSPC instead of
// leaving a half-written chunk behind (package fs implements it with
// fallocate(FALLOC_FL_KEEP_SIZE)). An implementation may skip a range
// that starts at or past the backing's end: such a write overwrites
// nothing, and File cuts a failed write that extends the file back to its
// old size (FORMAT.md §9). A range that starts inside the file must be
// reserved whole, also its part past the end: a write that rewrites the
// partial last chunk and extends it would otherwise run out of space
// after overwriting the chunk's first bytes.
type Preallocator interface {
	Preallocate(off, n int64) error
}

// numStripes is the number of chunk locks; chunk i uses stripe i%numStripes.
const numStripes = 64

// File is a plaintext view of one ciphertext file, with random access.
// It is safe for concurrent use.
//
// # Locking
//
// mu is the size lock. ReadAt, WriteAt within the current size, Sync and
// Rewrap hold it shared; anything that changes the size (a WriteAt past the
// end, Truncate) or the header's existence (Close) holds it exclusively.
// Under the shared lock, chunk data is guarded by striped RWMutexes: reads
// hold the stripes of their chunks shared, writes exclusive, taken in
// ascending stripe order so two requests cannot deadlock. A partial-chunk
// read-modify-write therefore never interleaves with another write to the
// same chunk. hmu guards the current header slot and the wrapper; it is
// taken after mu and never while a stripe is held.
type File struct {
	b      Backing
	rand   io.Reader
	layout chunker.Layout // fixed for the File's life
	pipe   *chunker.Pipeline
	group  int                 // chunks per pipeline task: see taskBytes
	bufs   *chunker.BufferPool // stored-chunk-sized scratch buffers

	mu      sync.RWMutex
	size    int64 // the plaintext size present in the backing
	short   error // non-nil while the file is short (FORMAT.md §8): wraps ErrTruncated
	closed  bool
	hdr     *header // nil while the file is empty and has no header
	stripes [numStripes]sync.RWMutex

	hmu sync.Mutex
	w   KeyWrapper // wraps the DEK when a header is (re)created
	// pending is the header of a file made by CreateDeferred, until the
	// first write puts it on disk (createHeader, writeFirst): its DEK is
	// wrapped, nothing is written. Guarded by hmu, with mu held.
	pending *header
}

// options are test hooks: deterministic randomness for vectors, and the
// number of pipeline workers.
type options struct {
	rand    io.Reader
	workers int
}

func newFile(b Backing, w KeyWrapper, chunkSize int, o options) *File {
	if o.rand == nil {
		o.rand = rand.Reader
	}
	l := layoutFor(chunkSize)
	return &File{
		b:      b,
		w:      w,
		rand:   o.rand,
		layout: l,
		pipe:   chunker.NewPipeline(o.workers),
		group:  max(1, taskBytes/l.ChunkSize),
		bufs:   bufPool(int(l.StoredChunkSize())),
	}
}

// taskBytes is the least plaintext one pipeline task seals or opens: a
// request's chunks are handed to its goroutines this many bytes at a
// time, so that small chunks cost no more hand-outs and goroutine
// wake-ups than 64 KiB ones (issue 10).
const taskBytes = 64 << 10

// bufPools holds one scratch-buffer pool per stored chunk size, shared by
// every File: a pool per File made each new file (an untar creates
// thousands) allocate its own chunk buffer. Buffers that held plaintext
// are cleared before they go back (File.putBuf), so sharing them across
// files exposes nothing. Chunk sizes are powers of two in a fixed range,
// so the map stays small.
var bufPools sync.Map // int -> *chunker.BufferPool

func bufPool(size int) *chunker.BufferPool {
	if p, ok := bufPools.Load(size); ok {
		return p.(*chunker.BufferPool)
	}
	p, _ := bufPools.LoadOrStore(size, chunker.NewBufferPool(size))
	return p.(*chunker.BufferPool)
}

// Create starts a new ciphertext file in b, which must be empty: it writes
// the preamble and slot A with a fresh random DEK wrapped by w. It does not
// sync.
func Create(ctx context.Context, b Backing, w KeyWrapper, chunkSize int) (*File, error) {
	return create(ctx, b, w, chunkSize, options{})
}

func create(ctx context.Context, b Backing, w KeyWrapper, chunkSize int, o options) (*File, error) {
	f, err := createDeferred(ctx, b, w, chunkSize, o)
	if err != nil {
		return nil, err
	}
	if err := f.createHeader(ctx); err != nil {
		return nil, err
	}
	return f, nil
}

// CreateDeferred is Create without the header write: it draws the file ID
// and DEK and wraps the DEK now, so that a key service failure fails it as
// it fails Create, but it writes nothing. b stays empty, a valid empty
// file (FORMAT.md §2.1), until the first write or size-extending Truncate
// writes the header; WriteAtFloor writes it with its chunk. Close before
// then leaves b empty.
func CreateDeferred(ctx context.Context, b Backing, w KeyWrapper, chunkSize int) (*File, error) {
	return createDeferred(ctx, b, w, chunkSize, options{})
}

func createDeferred(ctx context.Context, b Backing, w KeyWrapper, chunkSize int, o options) (*File, error) {
	if err := checkChunkSize(int64(chunkSize)); err != nil {
		return nil, err
	}
	size, err := backingSize(b)
	if err != nil {
		return nil, err
	}
	if size != 0 {
		return nil, fmt.Errorf("%w: %d bytes", ErrNotEmpty, size)
	}
	f := newFile(b, w, chunkSize, o)
	if f.pending, err = makeHeader(ctx, w, chunkSize, f.rand, 0); err != nil {
		return nil, err
	}
	return f, nil
}

// Open opens the ciphertext file in b. An empty b is a valid empty file
// whose header is created, with chunkSize and a DEK wrapped by ks, on the
// first write; otherwise the header's own chunk size wins over chunkSize.
//
// A file shorter than its header's committed size, or ending in a torn
// chunk fragment, opens as a short file (FORMAT.md §8), so that the data
// a power loss left behind can still be read: Size is the size present,
// reads inside it work, and a read that reaches its end fails with an
// error wrapping ErrTruncated instead of io.EOF (see Truncation). Open
// fails with ErrTruncated only if the header itself is cut, and with an
// error wrapping ErrUnauthenticated or ErrBadHeader if no header slot is
// valid.
func Open(ctx context.Context, b Backing, ks KeyService, chunkSize int) (*File, error) {
	return open(ctx, b, ks, chunkSize, options{})
}

func open(ctx context.Context, b Backing, ks KeyService, chunkSize int, o options) (*File, error) {
	if err := checkChunkSize(int64(chunkSize)); err != nil {
		return nil, err
	}
	size, err := backingSize(b)
	if err != nil {
		return nil, err
	}
	if size == 0 {
		return newFile(b, ks, chunkSize, o), nil // FORMAT.md, "Empty files"
	}
	h, err := loadHeader(ctx, b, size, ks)
	if err != nil {
		return nil, err
	}
	plain, short, err := presentSize(h, size)
	if err != nil {
		h.keys.wipe()
		return nil, err
	}
	f := newFile(b, ks, int(h.pre.ChunkSize), o)
	f.hdr, f.size, f.short = h, plain, short
	return f, nil
}

// backingSize returns the size of the ciphertext file.
func backingSize(b Backing) (int64, error) {
	fi, err := b.Stat()
	if err != nil {
		return 0, fmt.Errorf("envelope: stat of backing file: %w", err)
	}
	return fi.Size(), nil
}

// checkedPlainSize applies FORMAT.md §8 strictly, for Verify: a short
// file is an error.
func checkedPlainSize(h *header, cipherSize int64) (int64, error) {
	plain, short, err := presentSize(h, cipherSize)
	if err == nil {
		err = short
	}
	return plain, err
}

// presentSize returns the plaintext size present in a ciphertext file of
// cipherSize bytes with header h, and, if the file is short (FORMAT.md
// §8: below the committed size, or ending in a fragment too short to be a
// chunk), an error wrapping ErrTruncated that says how. err is only for
// sizes that cannot be represented.
func presentSize(h *header, cipherSize int64) (plain int64, short, err error) {
	plain, torn, err := layoutFor(int(h.pre.ChunkSize)).PlainSize(cipherSize)
	if err != nil {
		return 0, nil, fmt.Errorf("%w: %w", ErrTooLarge, err)
	}
	floor := h.committed()
	switch {
	case plain < floor && torn:
		short = fmt.Errorf("%w: plaintext size %d is below the committed size %d, and the body ends in a torn fragment", ErrTruncated, plain, floor)
	case plain < floor:
		short = fmt.Errorf("%w: plaintext size %d is below the committed size %d", ErrTruncated, plain, floor)
	case torn:
		short = fmt.Errorf("%w: the body ends in a fragment too short to be a chunk, after %d plaintext bytes", ErrTruncated, plain)
	}
	return plain, short, nil
}

// createHeader writes a new header: the pending one (CreateDeferred) if
// there is one, else one with a fresh DEK. The caller holds mu exclusively
// (or is the only user, in Create).
func (f *File) createHeader(ctx context.Context) error {
	h, err := f.newHeader(ctx)
	if err != nil {
		return err
	}
	raw := make([]byte, HeaderSize)
	if err = h.encodeNew(raw); err == nil {
		if _, werr := f.b.WriteAt(raw, 0); werr != nil {
			err = fmt.Errorf("envelope: writing header: %w", werr)
		}
	}
	if err != nil {
		h.keys.wipe()
		return err
	}
	f.hdr = h
	return nil
}

// newHeader takes the pending header, or makes a new one wrapped by the
// current wrapper. The caller holds mu exclusively.
func (f *File) newHeader(ctx context.Context) (*header, error) {
	f.hmu.Lock()
	h, w := f.pending, f.w
	f.pending = nil
	f.hmu.Unlock()
	if h != nil {
		return h, nil
	}
	return makeHeader(ctx, w, f.layout.ChunkSize, f.rand, 0)
}

// Size returns the plaintext size; for a short file, the size present.
func (f *File) Size() int64 {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.size
}

// Truncation returns nil, or, while the file is short, an error wrapping
// ErrTruncated that describes how: it was opened below its committed size
// or with a torn fragment at its end (FORMAT.md §8), and no write past its
// end or Truncate has settled it since. Reads that reach the end of a
// short file fail with this error instead of io.EOF.
func (f *File) Truncation() error {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.short
}

// FileID returns the file ID from the preamble, or zeros if the file is
// empty and has no header yet. Truncate(0) discards the header, so a later
// write gives the file a new ID.
func (f *File) FileID() [16]byte {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.hdr == nil {
		return [16]byte{}
	}
	return f.hdr.pre.FileID
}

// KeyRef returns the master key version that wraps the file's DEK, or the
// zero KeyRef if the file has no header yet.
func (f *File) KeyRef() KeyRef {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.hdr == nil {
		return KeyRef{}
	}
	f.hmu.Lock()
	defer f.hmu.Unlock()
	return f.hdr.slot.KeyRef
}

// ChunkSize returns the file's chunk size.
func (f *File) ChunkSize() int { return f.layout.ChunkSize }
