package fs

import (
	"bytes"
	"fmt"
	"os"
	"testing"

	"github.com/kmsfs/kmsfs/envelope"
)

func TestRoundTrip(t *testing.T) {
	for _, mode := range nameModes {
		for _, chunk := range []int{envelope.MinChunkSize, envelope.DefaultChunkSize} {
			testRoundTrip(t, mode.name, chunk, mode.opt)
		}
	}
}

// testRoundTrip writes and checks files of the edge sizes of chunk on one
// mount.
func testRoundTrip(t *testing.T, mode string, chunk int, opt mountOpt) {
	tm := newTestMount(t, opt, func(o *Options) { o.ChunkSize = chunk })
	for _, size := range []int{0, 1, chunk - 1, chunk, chunk + 1, 3*chunk + 7} {
		t.Run(fmt.Sprintf("%s,chunk=%d,len=%d", mode, chunk, size), func(t *testing.T) {
			name := fmt.Sprintf("f%d", size)
			want := plaintext(size)
			if err := os.WriteFile(tm.path(name), want, 0o644); err != nil {
				t.Fatal(err)
			}
			checkFile(t, tm, name, want)
		})
	}
	tm.noWarnings(t)
}

// checkFile checks name's contents and stat size through the mount, and
// its ciphertext size and secrecy in CipherDir.
func checkFile(t *testing.T, tm *testMount, name string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(tm.path(name))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("read %d bytes, want %d (contents differ)", len(got), len(want))
	}
	fi, err := os.Stat(tm.path(name))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() != int64(len(want)) {
		t.Errorf("stat size %d, want %d", fi.Size(), len(want))
	}
	ct, err := os.ReadFile(tm.cpath(t, name))
	if err != nil {
		t.Fatal(err)
	}
	wantCT := envelope.CiphertextSize(int64(len(want)), tm.chunk)
	if len(want) == 0 && len(ct) == envelope.HeaderSize {
		wantCT = envelope.HeaderSize // created empty: a header, no chunks
	}
	if int64(len(ct)) != wantCT {
		t.Errorf("ciphertext size %d, want %d", len(ct), wantCT)
	}
	if len(want) > 0 && bytes.Contains(ct, []byte("kmsfs-plaintext-marker")) {
		t.Errorf("ciphertext contains plaintext")
	}
}

// TestStatWithoutOpen checks sizes reported by a fresh mount, where no file
// is open: they come from the ciphertext size alone.
func TestStatWithoutOpen(t *testing.T) {
	tm := newTestMount(t)
	c := tm.chunk
	sizes := []int{0, 1, c - 1, c, c + 1, 3*c + 7}
	for _, n := range sizes {
		if err := os.WriteFile(tm.path(fmt.Sprint(n)), plaintext(n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tm2 := tm.remount(t)
	for _, n := range sizes {
		fi, err := os.Stat(tm2.path(fmt.Sprint(n)))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() != int64(n) {
			t.Errorf("size of %d-byte file: %d", n, fi.Size())
		}
	}
}
