package envelope

// Stream format 2 (FORMAT.md §16): the preamble carries FlagStream, and
// every chunk's AAD ends in a final-chunk flag, as in age's STREAM:
//
//	aad = file ID [16] | chunk index u64 | final u8 (0x00, or 0x01 on the last chunk)
//
// The last chunk holds 1..C bytes, or 0 bytes if the whole stream is
// empty (then it is chunk 0: nonce [12] | tag [16]). A reader knows a
// chunk is the last by reaching the end of its input, and opens it only
// as final, so a stream cut anywhere fails with ErrTruncated.

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
)

// Constants of the stream format (FORMAT.md §16).
const (
	// StreamVersion is the stream format NewStreamWriter writes. Stream
	// format 1 is the file format of FORMAT.md §2 written sequentially
	// (NewWriter): its only truncation protection is the size floor.
	StreamVersion = 2
	// FlagStream is the preamble flag of a stream format 2 ciphertext,
	// set alongside the flags of the preamble's version (none in version
	// 1, FlagKMS in version 2). Readers of files refuse it.
	FlagStream = 0x0002
	finalFlag  = 0x01 // the last byte of the last chunk's AAD
)

// parseStreamPreamble validates a preamble that may carry FlagStream:
// without it the preamble must be a file's (ParsePreamble); with it, the
// rest of its flags must be those of its version. It reports whether the
// flag is set.
func parseStreamPreamble(b []byte) (Preamble, bool, error) {
	if len(b) != PreambleSize {
		p, err := ParsePreamble(b)
		return p, false, err
	}
	flags := binary.BigEndian.Uint16(b[14:])
	if flags&FlagStream == 0 {
		p, err := ParsePreamble(b)
		return p, false, err
	}
	c := append([]byte(nil), b...)
	binary.BigEndian.PutUint16(c[14:], flags&^FlagStream)
	p, err := ParsePreamble(c)
	p.Flags = flags
	return p, true, err
}

// parseStreamHeader is parseHeader for NewReader: it also accepts a
// stream format 2 preamble, and reports whether it had one.
func parseStreamHeader(ctx context.Context, raw []byte, u KeyUnwrapper) (*header, bool, error) {
	pre, marked, err := parseStreamPreamble(raw[:PreambleSize])
	if err != nil {
		return nil, false, err
	}
	h, err := parseSlots(ctx, pre, raw, u)
	return h, marked, err
}

// streamChunkAAD writes into s and returns the AAD that binds a stream
// chunk to its file, position and finality (FORMAT.md §16.1).
func (s *chunkScratch) streamChunkAAD(fileID *[FileIDSize]byte, i int64, final bool) []byte {
	aad := s.aad[:FileIDSize+9]
	s.chunkAAD(fileID, i)
	aad[FileIDSize+8] = 0
	if final {
		aad[FileIDSize+8] = finalFlag
	}
	return aad
}

// sealStreamChunk seals stream chunk i in place under nonce, with the
// final-chunk flag in its AAD: buf[NonceSize:NonceSize+n] holds the
// plaintext; n may be 0 only for the final chunk of an empty stream.
func (k *fileKeys) sealStreamChunk(buf []byte, n int, fileID *[FileIDSize]byte, i int64, final bool, nonce []byte) []byte {
	if n < 0 || (n == 0 && (!final || i != 0)) || len(buf) < n+ChunkOverhead {
		panic(fmt.Sprintf("envelope: internal error: sealing %d bytes as stream chunk %d in a %d-byte buffer", n, i, len(buf)))
	}
	s := chunkScratchPool.Get().(*chunkScratch)
	defer chunkScratchPool.Put(s)
	return k.sealWith(buf, buf[NonceSize:NonceSize+n], nonce, s.streamChunkAAD(fileID, i, final))
}

// openStreamChunk authenticates and decrypts stored stream chunk i as
// final or not, appending to dst like openChunk. A stream has no holes.
// On failure it returns ErrUnauthenticated unwrapped and dst's new bytes
// are not valid plaintext.
func (k *fileKeys) openStreamChunk(dst, stored []byte, fileID *[FileIDSize]byte, i int64, final bool) ([]byte, error) {
	if len(stored) < ChunkOverhead {
		return nil, ErrTruncated
	}
	s := chunkScratchPool.Get().(*chunkScratch)
	defer chunkScratchPool.Put(s)
	out, err := k.aead.Open(dst, stored[:NonceSize], stored[NonceSize:], s.streamChunkAAD(fileID, i, final))
	if err != nil {
		return nil, ErrUnauthenticated
	}
	return out, nil
}

// errCutOrAltered reports a last chunk shorter than a full one that does
// not open as the final chunk: the stream was cut inside it, or it was
// altered. Both sentinels match; which it was cannot be told.
var errCutOrAltered = fmt.Errorf("%w (or %w): the last chunk does not authenticate as the final chunk", ErrTruncated, ErrUnauthenticated)

// nextMarked reads and opens the next chunk of a stream format 2 input
// (FORMAT.md §16.3): the chunk that ends the input MUST open as final,
// every other chunk MUST open as not final.
func (sr *Reader) nextMarked() error {
	if sr.final {
		return io.EOF
	}
	m, last, err := sr.readChunk()
	switch {
	case err != nil:
		return err
	case m == 0:
		return &ChunkError{Index: sr.chunk, Err: fmt.Errorf("%w: the stream ends without its final chunk", ErrTruncated)}
	case last && m < ChunkOverhead:
		return &ChunkError{Index: sr.chunk, Err: fmt.Errorf("%w: %d-byte fragment where a chunk should be", ErrTruncated, m)}
	}
	pt, err := sr.openMarked(sr.buf[:m], last)
	if err != nil {
		clear(sr.plain)
		return &ChunkError{Index: sr.chunk, Err: err}
	}
	sr.out, sr.chunk, sr.total, sr.final = pt, sr.chunk+1, sr.total+int64(len(pt)), last
	return nil
}

// openMarked opens stored as the final chunk if last, else as a middle
// one. On failure it tries the other flag only to say what went wrong.
func (sr *Reader) openMarked(stored []byte, last bool) ([]byte, error) {
	fid := &sr.hdr.pre.FileID
	dst := sr.plain[:0] // not in place: a failed Open zeroes its output, and the retry needs stored intact
	pt, err := sr.hdr.keys.openStreamChunk(dst, stored, fid, sr.chunk, last)
	if err == nil {
		if len(pt) == 0 && sr.chunk != 0 {
			return nil, fmt.Errorf("%w: empty final chunk after chunk 0", ErrUnauthenticated)
		}
		return pt, nil
	}
	full := len(stored) == len(sr.buf)
	if _, oerr := sr.hdr.keys.openStreamChunk(dst, stored, fid, sr.chunk, !last); oerr == nil {
		if last {
			return nil, fmt.Errorf("%w: the stream was cut after this chunk (it is not the final one)", ErrTruncated)
		}
		return nil, fmt.Errorf("%w: data follows the final chunk", ErrUnauthenticated)
	}
	if last && !full {
		return nil, errCutOrAltered
	}
	return nil, ErrUnauthenticated
}
