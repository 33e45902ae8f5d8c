package bench

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"errors"
	"io"
	"io/fs"
	"os"
	"sync"
	"time"

	"github.com/kmsfs/kmsfs/envelope"
)

// memBacking is an in-memory envelope.Backing (and io.Writer).
type memBacking struct {
	mu   sync.RWMutex
	data []byte
}

func (m *memBacking) ReadAt(p []byte, off int64) (int, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if off >= int64(len(m.data)) {
		return 0, io.EOF
	}
	n := copy(p, m.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (m *memBacking) WriteAt(p []byte, off int64) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if end := int(off) + len(p); end > len(m.data) {
		m.data = append(m.data, make([]byte, end-len(m.data))...)
	}
	return copy(m.data[off:], p), nil
}

func (m *memBacking) Write(p []byte) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.data = append(m.data, p...)
	return len(p), nil
}

func (m *memBacking) Truncate(size int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if size > int64(len(m.data)) {
		m.data = append(m.data, make([]byte, size-int64(len(m.data)))...)
	}
	m.data = m.data[:size]
	return nil
}

func (m *memBacking) Sync() error { return nil }

func (m *memBacking) Stat() (os.FileInfo, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return memInfo(len(m.data)), nil
}

func (m *memBacking) reader() io.Reader {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return bytes.NewReader(m.data)
}

type memInfo int64

func (i memInfo) Name() string       { return "bench" }
func (i memInfo) Size() int64        { return int64(i) }
func (i memInfo) Mode() fs.FileMode  { return 0o600 }
func (i memInfo) ModTime() time.Time { return time.Time{} }
func (i memInfo) IsDir() bool        { return false }
func (i memInfo) Sys() any           { return nil }

// stubKey is the fixed master key of stubWrapper; benchmarks protect
// nothing.
var stubKey = make([]byte, 32)

// stubWrapper wraps DEKs with AES-256-GCM under an all-zero key and a
// zero nonce. It is a stand-in for the keyring in benchmarks only: it
// provides no security.
type stubWrapper struct{}

func stubAEAD() cipher.AEAD {
	block, _ := aes.NewCipher(stubKey)
	aead, _ := cipher.NewGCM(block)
	return aead
}

func (stubWrapper) WrapKey(_ context.Context, dek, aad []byte) (envelope.KeyRef, []byte, error) {
	return envelope.KeyRef{Version: 1}, stubAEAD().Seal(nil, make([]byte, 12), dek, aad), nil
}

func (stubWrapper) UnwrapKey(_ context.Context, _ envelope.KeyRef, wrapped, aad []byte) ([]byte, error) {
	dek, err := stubAEAD().Open(nil, make([]byte, 12), wrapped, aad)
	if err != nil {
		return nil, errors.Join(envelope.ErrUnauthenticated, err)
	}
	return dek, nil
}
