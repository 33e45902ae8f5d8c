package envelope

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/kmsfs/kmsfs/chunker"
)

// streamBatch is how many chunks the streaming writer seals in parallel
// per output write.
const streamBatch = 8

// NewWriter returns a streaming writer that encrypts everything written to
// it into w, sequentially, as one ciphertext file. It writes the header at
// once (so an empty stream is a 544-byte header-only file). Close flushes
// the last chunk and, if w is also an io.WriterAt, commits the plaintext
// size as the size floor in slot B; otherwise the floor stays 0. Errors
// are sticky. On failure, Abort ends the stream without either.
//
// The floor goes into the header where the stream wrote it. If w is also
// an io.Seeker, the stream starts at w's position when NewWriter is called
// (not necessarily 0); a Seeker that cannot seek (a pipe) or that did not
// write the header there (append mode on a non-empty file) gets no floor.
// Otherwise the stream must start at offset 0 of w. An *os.File opened
// with O_APPEND refuses WriteAt, so Close would fail: hide its WriteAt,
// for example as struct{ io.Writer }{f}.
func NewWriter(ctx context.Context, w io.Writer, kw KeyWrapper, chunkSize int) (*Writer, error) {
	return newWriter(ctx, w, kw, chunkSize, options{})
}

// NewStreamWriter returns a streaming writer of stream format 2
// (FORMAT.md §16), for output that travels as a whole: a pipe, a backup.
// Every chunk's AAD says whether it is the last, so a reader detects any
// truncation, at a chunk boundary, inside a chunk, down to the header or
// to nothing. Its output is not a file the mount opens (readers of files
// refuse FlagStream) and it commits no size floor, which it does not
// need. Errors are sticky; Abort ends a failed stream without a final
// chunk, so the output then reads as truncated.
func NewStreamWriter(ctx context.Context, w io.Writer, kw KeyWrapper, chunkSize int) (*Writer, error) {
	return newStreamWriter(ctx, w, kw, chunkSize, options{})
}

func newStreamWriter(ctx context.Context, w io.Writer, kw KeyWrapper, chunkSize int, o options) (*Writer, error) {
	return newWriterOf(ctx, w, kw, chunkSize, o, true)
}

func newWriter(ctx context.Context, w io.Writer, kw KeyWrapper, chunkSize int, o options) (*Writer, error) {
	return newWriterOf(ctx, w, kw, chunkSize, o, false)
}

// newWriterOf writes the header of a stream of format 2 if marked, else
// of format 1 (a file).
func newWriterOf(ctx context.Context, w io.Writer, kw KeyWrapper, chunkSize int, o options, marked bool) (*Writer, error) {
	if err := checkChunkSize(int64(chunkSize)); err != nil {
		return nil, err
	}
	if o.rand == nil {
		o.rand = rand.Reader
	}
	var flags uint16
	if marked {
		flags = FlagStream
	}
	h, raw, err := newHeaderFlags(ctx, kw, chunkSize, o.rand, flags)
	if err != nil {
		return nil, err
	}
	start, seekable := position(w)
	if _, err := w.Write(raw); err != nil {
		h.keys.wipe()
		return nil, fmt.Errorf("envelope: writing header: %w", err)
	}
	l := layoutFor(chunkSize)
	at := floorTarget(w, start, seekable)
	if marked {
		at = nil // FORMAT.md §16: the final-chunk flag replaces the floor
	}
	return &Writer{
		w: w, at: at, hdr: h, rand: o.rand, layout: l, marked: marked,
		pipe: chunker.NewPipeline(o.workers),
		buf:  make([]byte, streamBatch*int(l.StoredChunkSize())),
	}, nil
}

// position returns w's position, if w is an io.Seeker that can tell it.
func position(w io.Writer) (int64, bool) {
	sk, ok := w.(io.Seeker)
	if !ok {
		return 0, false
	}
	pos, err := sk.Seek(0, io.SeekCurrent)
	return pos, err == nil
}

// floorTarget returns where Close commits the size floor, after the
// header was written at start (if seekable): w as an io.WriterAt, shifted
// to start if w is an io.Seeker. It returns nil if w is not an
// io.WriterAt, or is an io.Seeker that cannot seek (a pipe) or did not
// put the header at start (a file in append mode).
func floorTarget(w io.Writer, start int64, seekable bool) io.WriterAt {
	wa, ok := w.(io.WriterAt)
	if !ok {
		return nil
	}
	if _, ok := w.(io.Seeker); !ok {
		return wa // documented: the stream starts at offset 0
	}
	if end, ok := position(w); !seekable || !ok || end != start+HeaderSize {
		return nil
	}
	return offsetWriterAt{wa, start}
}

// offsetWriterAt writes at offsets relative to base.
type offsetWriterAt struct {
	w    io.WriterAt
	base int64
}

func (o offsetWriterAt) WriteAt(p []byte, off int64) (int, error) {
	return o.w.WriteAt(p, o.base+off)
}

// Writer is the streaming writer of NewWriter. It buffers up to
// streamBatch chunks of plaintext, each already at its sealed position in
// buf, and seals them in place in parallel.
type Writer struct {
	w      io.Writer
	at     io.WriterAt // where Close commits the floor; nil: nowhere
	hdr    *header
	rand   io.Reader
	nonces []byte // one flush's nonces, reused
	layout chunker.Layout
	pipe   *chunker.Pipeline
	buf    []byte
	n      int   // plaintext bytes buffered
	chunk  int64 // index of the first buffered chunk
	total  int64 // plaintext bytes written so far
	marked bool  // stream format 2: chunks carry the final-chunk flag
	err    error // sticky
}

// Write buffers p, sealing and writing full batches. Only full chunks are
// ever sealed before Close, so the last chunk is the only short one.
func (sw *Writer) Write(p []byte) (int, error) {
	if sw.err != nil {
		return 0, sw.err
	}
	if max := sw.layout.MaxPlainSize(); int64(len(p)) > max-sw.total {
		sw.err = fmt.Errorf("%w: stream exceeds %d bytes", ErrTooLarge, max)
		return 0, sw.err
	}
	c, s := sw.layout.ChunkSize, int(sw.layout.StoredChunkSize())
	written := 0
	for len(p) > 0 {
		if sw.n == streamBatch*c {
			if sw.err = sw.flush(false); sw.err != nil {
				return written, sw.err
			}
		}
		k, o := sw.n/c, sw.n%c
		m := copy(sw.buf[k*s+NonceSize+o:k*s+NonceSize+c], p)
		sw.n, sw.total, written, p = sw.n+m, sw.total+int64(m), written+m, p[m:]
	}
	return written, nil
}

// flush seals the buffered chunks and writes them in one call. With
// last (from Close) the last of them is the stream's final chunk; a
// format 2 stream with nothing buffered then gets an empty one.
func (sw *Writer) flush(last bool) error {
	c, s := sw.layout.ChunkSize, int(sw.layout.StoredChunkSize())
	chunks := (sw.n + c - 1) / c
	if last && sw.marked && chunks == 0 {
		chunks = 1 // FORMAT.md §16.1: an empty stream is one empty final chunk
	}
	// The nonces are drawn here, in chunk order, before the chunks are
	// sealed in parallel: one read of the random source per flush, and a
	// deterministic source (the test vectors') is never read concurrently
	// and gives the same stream every time.
	sw.nonces = slices.Grow(sw.nonces[:0], chunks*NonceSize)[:chunks*NonceSize]
	if err := freshNonces(sw.rand, sw.nonces); err != nil {
		return err
	}
	err := sw.pipe.Run(context.Background(), chunks, func(k int) error {
		n, i := min(c, sw.n-k*c), sw.chunk+int64(k)
		buf, nonce := sw.buf[k*s:], sw.nonces[k*NonceSize:(k+1)*NonceSize]
		var err error
		if sw.marked {
			sw.hdr.keys.sealStreamChunk(buf, n, &sw.hdr.pre.FileID, i, last && k == chunks-1, nonce)
		} else {
			_, err = sw.hdr.keys.sealChunkFrom(buf, buf[NonceSize:NonceSize+n], &sw.hdr.pre.FileID, i, nonce, sw.rand)
		}
		return err
	})
	if err != nil {
		return err
	}
	out := sw.buf[:sw.n+chunks*ChunkOverhead]
	if _, err := sw.w.Write(out); err != nil {
		return fmt.Errorf("envelope: writing chunks %d-%d: %w", sw.chunk, sw.chunk+int64(chunks)-1, err)
	}
	sw.chunk += int64(chunks)
	sw.n = 0
	return nil
}

// Close flushes the last chunk and, if possible, commits the size floor.
// It zeroes the keys; later calls return the sticky error or ErrClosed.
func (sw *Writer) Close() error {
	if sw.err != nil {
		return sw.err
	}
	defer sw.wipe()
	sw.err = ErrClosed
	if sw.n > 0 || sw.marked {
		if err := sw.flush(true); err != nil {
			sw.err = err
			return err
		}
	}
	if sw.at == nil || sw.total == 0 {
		return nil
	}
	next := sw.hdr.slot
	next.CommittedSize = uint64(sw.total)
	if err := sw.hdr.commit(sw.at, next); err != nil {
		sw.err = err
		return err
	}
	return nil
}

// Abort ends a stream that failed (its input could not be read, say)
// without writing anything more: no buffered chunk and no size floor, so
// the output does not become a complete-looking ciphertext of the part
// that was read. It zeroes the keys; later calls return the sticky error
// or ErrClosed. Aborting a closed or failed stream does nothing.
func (sw *Writer) Abort() {
	if sw.err != nil {
		return
	}
	sw.err = ErrClosed
	sw.wipe()
}

// wipe zeroes the keys and the buffered plaintext.
func (sw *Writer) wipe() {
	clear(sw.buf)
	sw.hdr.keys.wipe()
}

// NewReader returns a streaming reader of the plaintext of the ciphertext
// file read from r. It authenticates the header at once. It returns io.EOF
// only after the whole file authenticated and its size reached the
// committed size; a file cut below the floor, or ending in a torn fragment,
// ends with an error wrapping ErrTruncated instead. Errors are sticky.
// Plaintext is returned chunk by chunk as each authenticates, so a caller
// that must not act on a truncated file waits for io.EOF.
//
// The reader zeroes its keys at the end of the stream or at its first
// error; Close does so for a reader abandoned before either.
//
// It reads both stream formats (FORMAT.md §16): format 2 (NewStreamWriter)
// fails with ErrTruncated wherever it was cut; format 1 (NewWriter, and
// every file) only below its size floor: see Legacy.
func NewReader(ctx context.Context, r io.Reader, ku KeyUnwrapper) (*Reader, error) {
	return newReader(ctx, r, ku, false)
}

// NewStreamReader is NewReader for input that must be a whole stream, as
// `kmsfs decrypt` reads: an empty input, which no stream writer produces
// (an empty plaintext still has a header), fails with ErrTruncated
// instead of reading as an empty file (FORMAT.md §16.3).
func NewStreamReader(ctx context.Context, r io.Reader, ku KeyUnwrapper) (*Reader, error) {
	return newReader(ctx, r, ku, true)
}

func newReader(ctx context.Context, r io.Reader, ku KeyUnwrapper, whole bool) (*Reader, error) {
	raw := make([]byte, HeaderSize)
	n, err := io.ReadFull(r, raw)
	switch {
	case n == 0 && errors.Is(err, io.EOF) && whole:
		return nil, fmt.Errorf("%w: the stream is empty (not even a header)", ErrTruncated)
	case n == 0 && errors.Is(err, io.EOF):
		return &Reader{err: io.EOF}, nil // FORMAT.md §2.1
	case errors.Is(err, io.ErrUnexpectedEOF):
		return nil, fmt.Errorf("%w: header cut short at %d bytes", ErrTruncated, n)
	case err != nil:
		return nil, fmt.Errorf("envelope: reading header: %w", err)
	}
	h, marked, err := parseStreamHeader(ctx, raw, ku)
	if err != nil {
		return nil, err
	}
	l := layoutFor(int(h.pre.ChunkSize))
	s := int(l.StoredChunkSize())
	sr := &Reader{r: bufio.NewReaderSize(r, s), hdr: h, layout: l, buf: make([]byte, s), marked: marked}
	if marked {
		sr.plain = make([]byte, int(l.ChunkSize))
	}
	return sr, nil
}

// Legacy reports whether the input is not in stream format 2: a file, or
// a stream of format 1 (NewWriter, kmsfs encrypt before stream format 2),
// whose chunks carry no final-chunk flag. Such a stream cut at a chunk
// boundary above its size floor (0 when it was piped) reads as a shorter
// plaintext without error.
func (sr *Reader) Legacy() bool { return !sr.marked }

// Protected reports whether a cut anywhere in what was read so far
// would have failed: the input is in stream format 2, or its size floor
// covers every plaintext byte read (a file, or a format 1 stream written
// to a seekable output). A format 1 stream that was piped (floor 0), and
// an empty one, are not. Call it after io.EOF.
func (sr *Reader) Protected() bool {
	return sr.marked || (sr.hdr != nil && sr.total > 0 && sr.hdr.committed() >= sr.total)
}

// Reader is the streaming reader of NewReader. It decrypts one chunk at a
// time, reading one byte ahead to know whether a full chunk is the last
// (only non-last chunks may be holes).
type Reader struct {
	r      *bufio.Reader
	hdr    *header // nil for an empty file
	layout chunker.Layout
	buf    []byte
	out    []byte // decrypted, not yet returned
	chunk  int64
	total  int64
	marked bool   // stream format 2 (FORMAT.md §16)
	plain  []byte // format 2: decrypted chunk, not in place
	final  bool   // format 2: the final chunk was read
	err    error
}

// Read implements io.Reader.
func (sr *Reader) Read(p []byte) (int, error) {
	for len(sr.out) == 0 {
		if sr.err != nil {
			return 0, sr.err
		}
		if sr.marked {
			sr.err = sr.nextMarked()
		} else {
			sr.err = sr.next()
		}
		if sr.err != nil {
			sr.wipe()
		}
	}
	n := copy(p, sr.out)
	sr.out = sr.out[n:]
	return n, nil
}

// Close zeroes the keys and any plaintext not yet read; later reads
// return ErrClosed, or the error or io.EOF the stream had ended with. It
// does not close the underlying reader.
func (sr *Reader) Close() error {
	if sr.err == nil {
		sr.err = ErrClosed
	}
	sr.out = nil
	sr.wipe()
	return nil
}

// wipe zeroes the keys and the chunk buffer.
func (sr *Reader) wipe() {
	clear(sr.buf)
	clear(sr.plain)
	if sr.hdr != nil {
		sr.hdr.keys.wipe()
	}
}

// readChunk reads the next stored chunk into sr.buf[:m] and reports
// whether it is the last of the input: shorter than a full chunk, or full
// with nothing after it. m is 0 at the end of the input. err is a read
// error; the input ending is not one.
func (sr *Reader) readChunk() (m int, last bool, err error) {
	m, err = io.ReadFull(sr.r, sr.buf)
	switch {
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return m, true, nil
	case err != nil:
		return m, false, fmt.Errorf("envelope: reading chunk %d: %w", sr.chunk, err)
	}
	if _, err := sr.r.Peek(1); err != nil {
		if !errors.Is(err, io.EOF) {
			return m, false, fmt.Errorf("envelope: reading chunk %d: %w", sr.chunk+1, err)
		}
		return m, true, nil
	}
	return m, false, nil
}

// next reads and opens the next chunk, or reports the end of the stream.
func (sr *Reader) next() error {
	m, last, err := sr.readChunk()
	switch {
	case err != nil:
		return err
	case m == 0:
		return sr.end()
	case last && m <= ChunkOverhead:
		return &ChunkError{Index: sr.chunk, Err: fmt.Errorf("%w: %d-byte fragment after the last chunk", ErrTruncated, m)}
	}
	if size := sr.total + int64(m-ChunkOverhead); last && size < sr.hdr.committed() {
		return fmt.Errorf("%w: plaintext size %d is below the committed size %d", ErrTruncated, size, sr.hdr.committed())
	}
	pt, err := sr.hdr.keys.openChunk(sr.buf[NonceSize:NonceSize], sr.buf[:m], &sr.hdr.pre.FileID, sr.chunk, !last)
	if err != nil {
		return err
	}
	sr.out, sr.chunk, sr.total = pt, sr.chunk+1, sr.total+int64(len(pt))
	return nil
}

// end checks the size floor at the end of the stream.
func (sr *Reader) end() error {
	if sr.total < sr.hdr.committed() {
		return fmt.Errorf("%w: plaintext size %d is below the committed size %d", ErrTruncated, sr.total, sr.hdr.committed())
	}
	return io.EOF
}
