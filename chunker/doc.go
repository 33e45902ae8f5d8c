// Package chunker does the arithmetic that maps a plaintext byte range onto
// fixed-size encrypted chunks, and runs per-chunk work in parallel.
//
// It owns offsets only: which chunks a request touches, where each chunk
// lives in the ciphertext file, and how big a file of a given plaintext size
// is once encrypted. It knows nothing of keys, ciphers or on-disk headers;
// the caller (package envelope) passes in its header size and per-chunk
// overhead, so that the dependency points from envelope down to chunker and
// never back.
//
// # Layout
//
// A [Layout] describes a file as a fixed-size header followed by chunks.
// Chunk i holds plaintext bytes [i*C, i*C+C) and is stored at ciphertext
// offset HeaderSize + i*(C+Overhead). Every function that does this
// arithmetic checks for int64 overflow and returns [ErrOutOfRange] rather
// than a wrapped-around offset, because a wrapped offset would silently
// read or overwrite the wrong chunk.
//
// # Pipeline
//
// A [Pipeline] runs a function over N chunk jobs on a bounded number of
// goroutines, handing them out one or a group at a time
// ([Pipeline.RunGrouped]), so that many small chunks cost no more
// goroutine wake-ups than a few big ones; a [BufferPool] hands out chunk-sized scratch buffers so that
// the hot path does not allocate a chunk per request.
package chunker
