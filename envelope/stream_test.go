package envelope_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/kmsfs/kmsfs/envelope"
	"github.com/kmsfs/kmsfs/internal/memfile"
)

// TestStreamWriterTargets: the size floor lands in the stream's own header
// wherever the stream starts in a seekable file, never on bytes before it,
// and a target that cannot take it (append mode, a pipe) gets none
// instead of failing Close.
func TestStreamWriterTargets(t *testing.T) {
	kms := newKMS(t, 1)
	plain := pattern(2*tc4k+7, "targets")
	prefix := []byte("user data that must survive\n")
	for _, tc := range []struct {
		name      string
		flag      int
		prefix    bool // prefix written before the stream starts
		wantFloor int64
	}{
		{"from offset 0", os.O_RDWR, false, int64(len(plain))},
		{"after other data", os.O_RDWR, true, int64(len(plain))},
		{"appending after other data", os.O_RDWR | os.O_APPEND, true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "out")
			var start []byte
			if tc.prefix {
				start = prefix
			}
			if err := os.WriteFile(path, start, 0o600); err != nil {
				t.Fatal(err)
			}
			f, err := os.OpenFile(path, tc.flag, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if tc.flag&os.O_APPEND == 0 {
				if _, err := f.Seek(int64(len(start)), io.SeekStart); err != nil {
					t.Fatal(err)
				}
			}
			writeStream(t, kms, f, plain)
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			mustEqual(t, "bytes before the stream", got[:len(start)], start)
			ct := got[len(start):]
			h, err := envelope.ReadHeader(bg, memfile.New(ct), kms)
			if err != nil || h.CommittedSize != tc.wantFloor {
				t.Fatalf("header %+v, %v; want floor %d", h, err, tc.wantFloor)
			}
			out, err := decryptStream(kms, ct)
			if err != nil {
				t.Fatal(err)
			}
			mustEqual(t, "decrypted", out, plain)
		})
	}
	t.Run("pipe", func(t *testing.T) {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		done := make(chan []byte, 1)
		go func() { b, _ := io.ReadAll(r); done <- b }()
		writeStream(t, kms, w, plain)
		w.Close()
		out, err := decryptStream(kms, <-done)
		if err != nil {
			t.Fatal(err)
		}
		mustEqual(t, "through a pipe", out, plain)
	})
}

func writeStream(t *testing.T, kms envelope.KeyWrapper, w io.Writer, plain []byte) {
	t.Helper()
	sw, err := envelope.NewWriter(bg, w, kms, tc4k)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sw.Write(plain); err != nil {
		t.Fatal(err)
	}
	if err := sw.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// TestStreamWriterAbort: Abort writes nothing more, neither the buffered
// last chunk nor the size floor, and ends the stream.
func TestStreamWriterAbort(t *testing.T) {
	kms := newKMS(t, 1)
	b := &memfile.File{}
	w, err := envelope.NewWriter(bg, b, kms, tc4k)
	if err != nil {
		t.Fatal(err)
	}
	plain := pattern(9*tc4k+100, "abort") // one batch of 8 chunks is written, the rest buffered
	if _, err := w.Write(plain); err != nil {
		t.Fatal(err)
	}
	before := b.Bytes()
	w.Abort()
	mustEqual(t, "after Abort", b.Bytes(), before)
	if err := w.Close(); !errors.Is(err, envelope.ErrClosed) {
		t.Errorf("Close after Abort: %v, want ErrClosed", err)
	}
	if _, err := w.Write([]byte("x")); !errors.Is(err, envelope.ErrClosed) {
		t.Errorf("Write after Abort: %v, want ErrClosed", err)
	}
	w.Abort() // a second Abort does nothing
	h, err := envelope.ReadHeader(bg, b, kms)
	if err != nil || h.CommittedSize != 0 || h.Slot != 0 {
		t.Errorf("header after Abort: %+v, %v; want slot A, floor 0", h, err)
	}
	if len(before) != chunkOff(8) {
		t.Errorf("%d bytes written before Abort, want %d (one batch)", len(before), chunkOff(8))
	}
}

// TestStreamReaderClose: a reader closed before its end returns ErrClosed
// from then on; one closed after its end keeps returning io.EOF.
func TestStreamReaderClose(t *testing.T) {
	kms := newKMS(t, 1)
	var buf bytes.Buffer
	plain := pattern(3*tc4k, "reader close")
	writeStream(t, kms, &buf, plain)
	r, err := envelope.NewReader(bg, bytes.NewReader(buf.Bytes()), kms)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(r, make([]byte, 10)); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if n, err := r.Read(make([]byte, 10)); n != 0 || !errors.Is(err, envelope.ErrClosed) {
		t.Errorf("Read after Close = %d, %v; want 0, ErrClosed", n, err)
	}
	for _, ct := range [][]byte{buf.Bytes(), nil} {
		r, err := envelope.NewReader(bg, bytes.NewReader(ct), kms)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadAll(r); err != nil {
			t.Fatal(err)
		}
		r.Close()
		if _, err := r.Read(make([]byte, 1)); err != io.EOF {
			t.Errorf("Read after the end and Close: %v, want io.EOF", err)
		}
	}
}
