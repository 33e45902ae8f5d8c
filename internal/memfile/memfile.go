// Package memfile is an in-memory envelope.Backing for tests and
// benchmarks, with hooks to count syncs, observe preallocation and inject
// write failures.
package memfile

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"sync"
	"time"
)

// ErrInjected is the error returned by injected failures.
var ErrInjected = errors.New("memfile: injected failure")

// File is a growable byte slice behind a read-write mutex (parallel chunk
// reads do not serialise). The zero value is an
// empty file.
type File struct {
	mu    sync.RWMutex
	data  []byte
	syncs int
	// FailWrite, if set, is called before every WriteAt; a non-nil result
	// fails the write without changing the data.
	FailWrite func(p []byte, off int64) error
}

// New returns a File holding a copy of b.
func New(b []byte) *File { return &File{data: append([]byte(nil), b...)} }

// ReadAt implements io.ReaderAt.
func (f *File) ReadAt(p []byte, off int64) (int, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if off < 0 {
		return 0, fs.ErrInvalid
	}
	if off >= int64(len(f.data)) {
		return 0, io.EOF
	}
	n := copy(p, f.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// WriteAt implements io.WriterAt, growing the file with zeros as needed.
func (f *File) WriteAt(p []byte, off int64) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if off < 0 {
		return 0, fs.ErrInvalid
	}
	if f.FailWrite != nil {
		if err := f.FailWrite(p, off); err != nil {
			return 0, err
		}
	}
	if end := off + int64(len(p)); end > int64(len(f.data)) {
		f.grow(end)
	}
	return copy(f.data[off:], p), nil
}

func (f *File) grow(n int64) {
	if n <= int64(cap(f.data)) {
		old := len(f.data)
		f.data = f.data[:n]
		clear(f.data[old:])
		return
	}
	nd := make([]byte, n, max(n, 2*int64(cap(f.data))))
	copy(nd, f.data)
	f.data = nd
}

// Write appends p, so a File can be a streaming writer's target.
func (f *File) Write(p []byte) (int, error) {
	f.mu.Lock()
	off := int64(len(f.data))
	f.mu.Unlock()
	return f.WriteAt(p, off)
}

// Truncate sets the size, zero-filling when growing.
func (f *File) Truncate(size int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if size < 0 {
		return fs.ErrInvalid
	}
	if size > int64(len(f.data)) {
		f.grow(size)
		return nil
	}
	f.data = f.data[:size]
	return nil
}

// Sync counts calls.
func (f *File) Sync() error {
	f.mu.Lock()
	f.syncs++
	f.mu.Unlock()
	return nil
}

// Syncs returns the number of Sync calls so far.
func (f *File) Syncs() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.syncs
}

// Stat reports the size.
func (f *File) Stat() (os.FileInfo, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return info(len(f.data)), nil
}

// Bytes returns a copy of the contents.
func (f *File) Bytes() []byte {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return append([]byte(nil), f.data...)
}

// SetBytes replaces the contents with a copy of b.
func (f *File) SetBytes(b []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.data = append([]byte(nil), b...)
}

// Prealloc wraps a File with a Preallocate method that calls Fn (or
// succeeds if Fn is nil).
type Prealloc struct {
	*File
	Fn func(off, n int64) error
}

// Preallocate implements envelope.Preallocator.
func (p *Prealloc) Preallocate(off, n int64) error {
	if p.Fn == nil {
		return nil
	}
	return p.Fn(off, n)
}

type info int64

func (i info) Name() string       { return "memfile" }
func (i info) Size() int64        { return int64(i) }
func (i info) Mode() fs.FileMode  { return 0o600 }
func (i info) ModTime() time.Time { return time.Time{} }
func (i info) IsDir() bool        { return false }
func (i info) Sys() any           { return nil }
