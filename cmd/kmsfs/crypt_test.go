package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/kmsfs/kmsfs/envelope"
)

// plainKeys "wraps" a data key by copying it: enough to drive the stream
// code without a keyring. Test only.
type plainKeys struct{}

func (plainKeys) WrapKey(_ context.Context, dek, _ []byte) (envelope.KeyRef, []byte, error) {
	return envelope.KeyRef{Version: 1}, bytes.Clone(dek), nil
}

func (plainKeys) UnwrapKey(_ context.Context, _ envelope.KeyRef, wrapped, _ []byte) ([]byte, error) {
	return bytes.Clone(wrapped), nil
}

// TestStreamOnly: only a regular file at offset 0 without O_APPEND keeps
// its WriteAt, so the envelope writer never writes its floor over user
// bytes or into a file where WriteAt fails.
func TestStreamOnly(t *testing.T) {
	dir := t.TempDir()
	open := func(flag int, content string, seek int64) io.Writer {
		path := filepath.Join(dir, "f")
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		f, err := os.OpenFile(path, flag, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		if _, err := f.Seek(seek, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		return f
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	for _, tc := range []struct {
		name string
		w    io.Writer
		keep bool
	}{
		{"new file", open(os.O_RDWR|os.O_TRUNC, "", 0), true},
		{"file at offset 5", open(os.O_RDWR, "hello world", 5), false},
		{"append mode", open(os.O_WRONLY|os.O_APPEND, "", 0), false},
		{"append mode to a non-empty file", open(os.O_WRONLY|os.O_APPEND, "user data", 0), false},
		{"pipe", w, false},
		{"buffer", &bytes.Buffer{}, false},
	} {
		_, kept := streamOnly(tc.w).(io.WriterAt)
		if kept != tc.keep {
			t.Errorf("%s: WriterAt kept %v, want %v", tc.name, kept, tc.keep)
		}
	}
}

// TestEncryptStreamAppend: encrypting to a file opened with O_APPEND (the
// shell's >>), empty or not, succeeds, leaves the bytes before it alone,
// and decrypts.
func TestEncryptStreamAppend(t *testing.T) {
	for _, prefix := range []string{"", "earlier output\n"} {
		path := filepath.Join(t.TempDir(), "out")
		if err := os.WriteFile(path, []byte(prefix), 0o600); err != nil {
			t.Fatal(err)
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		err = encryptStream(context.Background(), plainKeys{}, bytes.NewReader([]byte("secret")), streamOnly(f), envelope.MinChunkSize)
		f.Close()
		if err != nil {
			t.Fatalf("encrypt >> file with %q: %v", prefix, err)
		}
		got, err := os.ReadFile(path)
		if err != nil || !bytes.HasPrefix(got, []byte(prefix)) {
			t.Fatalf("bytes before the stream changed: %v", err)
		}
		r, err := envelope.NewReader(context.Background(), bytes.NewReader(got[len(prefix):]), plainKeys{})
		if err != nil {
			t.Fatal(err)
		}
		if out, err := io.ReadAll(r); err != nil || string(out) != "secret" {
			t.Errorf("decrypted %q, %v", out, err)
		}
	}
}

type failingReader struct {
	r   io.Reader
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		return n, f.err
	}
	return n, err
}

// TestEncryptStreamInputError: when the input fails part way, encrypt
// writes neither the buffered tail nor the size floor, so its output never
// looks like a complete ciphertext of what was read.
func TestEncryptStreamInputError(t *testing.T) {
	errRead := errors.New("read failed")
	f, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	in := &failingReader{bytes.NewReader(make([]byte, 3*envelope.MinChunkSize+10)), errRead}
	if err := encryptStream(context.Background(), plainKeys{}, in, streamOnly(f), envelope.MinChunkSize); !errors.Is(err, errRead) {
		t.Fatalf("encryptStream = %v, want the read error", err)
	}
	h, err := envelope.ReadHeader(context.Background(), f, plainKeys{})
	if err != nil {
		t.Fatal(err)
	}
	st, _ := f.Stat()
	if h.CommittedSize != 0 || st.Size() != envelope.HeaderSize {
		t.Errorf("after a failed input: floor %d, %d bytes; want 0, %d (header only)", h.CommittedSize, st.Size(), envelope.HeaderSize)
	}
}
