package envelope_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/kmsfs/kmsfs/envelope"
	"github.com/kmsfs/kmsfs/internal/memfile"
	"github.com/kmsfs/kmsfs/internal/testkms"
)

const tc4k = envelope.MinChunkSize

// sample builds a 4-chunk file (3 full chunks and 1000 bytes) with a
// committed size floor. With twoSlots it was synced once more after a
// growth, so both slots are in use (B current); otherwise only slot A.
func sample(t *testing.T, kms *testkms.Service, twoSlots bool) (ct, plain []byte) {
	t.Helper()
	b := &memfile.File{}
	f, err := envelope.Create(bg, b, kms, tc4k)
	if err != nil {
		t.Fatal(err)
	}
	plain = pattern(3*tc4k+1000, "sample")
	if _, err := f.WriteAt(plain[:tc4k], 0); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil { // slot B, floor = 1 chunk
		t.Fatal(err)
	}
	if _, err := f.WriteAt(plain[tc4k:], tc4k); err != nil {
		t.Fatal(err)
	}
	if twoSlots {
		if err := f.Sync(); err != nil { // slot A again, floor = all
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil { // commits the floor if not yet done
		t.Fatal(err)
	}
	return b.Bytes(), plain
}

// decryptFile opens ct as a File and reads it all, up to its end: io.EOF,
// or for a short file (FORMAT.md §8) the error that replaces it.
func decryptFile(kms *testkms.Service, ct []byte) ([]byte, error) {
	f, err := envelope.Open(bg, memfile.New(ct), kms, tc4k)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := make([]byte, f.Size()+1)
	n, err := f.ReadAt(out, 0)
	if err != io.EOF {
		return nil, fmt.Errorf("reading past the end: %d bytes, %w", n, err)
	}
	return out[:n], nil
}

// decryptStream reads ct through NewReader.
func decryptStream(kms *testkms.Service, ct []byte) ([]byte, error) {
	r, err := envelope.NewReader(bg, bytes.NewReader(ct), kms)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}

// expectFailure requires both decryption paths to fail with want and
// return no plaintext.
func expectFailure(t *testing.T, kms *testkms.Service, ct []byte, want error) {
	t.Helper()
	for name, dec := range map[string]func(*testkms.Service, []byte) ([]byte, error){"file": decryptFile, "stream": decryptStream} {
		out, err := dec(kms, ct)
		if !errors.Is(err, want) {
			t.Errorf("%s: err = %v, want %v", name, err, want)
		}
		if out != nil && name == "file" {
			t.Errorf("%s: returned plaintext with error", name)
		}
	}
}

func flip(ct []byte, off int, mask byte) []byte {
	out := bytes.Clone(ct)
	out[off] ^= mask
	return out
}

func TestTamperPreamble(t *testing.T) {
	kms := newKMS(t, 1)
	ct, _ := sample(t, kms, true)
	for off := range envelope.PreambleSize {
		for _, mask := range []byte{0x01, 0x80} {
			want := envelope.ErrBadHeader // magic, version, chunk size, slot size, flags
			if off >= 16 {
				want = envelope.ErrUnauthenticated // file ID: bound by the wrap AAD
			}
			t.Run(fmt.Sprintf("byte=%d,mask=%#x", off, mask), func(t *testing.T) {
				expectFailure(t, kms, flip(ct, off, mask), want)
			})
		}
	}
}

func TestTamperPreambleSentinels(t *testing.T) {
	kms := newKMS(t, 1)
	ct, _ := sample(t, kms, false)
	for _, tc := range []struct {
		off  int
		want error
	}{
		{0, envelope.ErrBadMagic}, {5, envelope.ErrBadMagic},
		{7, envelope.ErrUnsupportedVersion},
		{10, envelope.ErrBadChunkSize},
		{13, envelope.ErrBadHeader},
		{15, envelope.ErrUnsupportedFlags},
	} {
		if _, err := decryptFile(kms, flip(ct, tc.off, 1)); !errors.Is(err, tc.want) || !errors.Is(err, envelope.ErrBadHeader) {
			t.Errorf("byte %d: %v, want %v", tc.off, err, tc.want)
		}
	}
}

// TestTamperSingleSlot flips every byte of the only slot. Each flip must
// fail with a sentinel; key ID and version flips reach the KMS, which
// reports an unknown key.
func TestTamperSingleSlot(t *testing.T) {
	kms := newKMS(t, 1)
	var buf bytes.Buffer // not seekable: only slot A is written
	w, err := envelope.NewWriter(bg, &buf, kms, tc4k)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(pattern(5000, "single")); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	ct := buf.Bytes()
	for i := range envelope.SlotSize {
		off := envelope.PreambleSize + i
		var want error
		switch {
		case i >= 8 && i < 28:
			want = testkms.ErrNotFound // key ID or version: no such key
		case i == 36 || (i >= 38+80+2 && i < 224):
			want = envelope.ErrBadHeader // wrap length > 186, non-zero padding
		case i == 37 || i == 38+80 || i == 38+80+1:
			// wrap length 81 (a zero byte joins the wrapped key), or an
			// empty non-critical extension: parses, fails authentication.
			want = envelope.ErrUnauthenticated
		default:
			want = envelope.ErrUnauthenticated // generation, size, wrapped DEK, MAC
		}
		if _, err := decryptFile(kms, flip(ct, off, 0x01)); !errors.Is(err, want) {
			t.Errorf("slot byte %d: %v, want %v", i, err, want)
		}
	}
}

// TestTamperCurrentSlotFallsBack flips the current slot of a two-slot
// file: the reader falls back to the older, still authentic slot, and the
// plaintext is unchanged (FORMAT.md, "Reading the header").
func TestTamperCurrentSlotFallsBack(t *testing.T) {
	kms := newKMS(t, 1)
	ct, plain := sample(t, kms, true)
	h, err := envelope.ReadHeader(bg, memfile.New(ct), kms)
	if err != nil {
		t.Fatal(err)
	}
	cur := envelope.PreambleSize + h.Slot*envelope.SlotSize
	for _, i := range []int{0, 30, 60, 200, 255} {
		bad := flip(ct, cur+i, 0x04)
		got, err := decryptFile(kms, bad)
		if err != nil {
			t.Fatalf("slot byte %d: %v", i, err)
		}
		mustEqual(t, "fallback", got, plain)
		h2, _ := envelope.ReadHeader(bg, memfile.New(bad), kms)
		if h2.Slot == h.Slot || h2.Generation != h.Generation-1 {
			t.Errorf("slot byte %d: used slot %d gen %d, want the other slot", i, h2.Slot, h2.Generation)
		}
	}
	// Both slots damaged: nothing authenticates.
	both := flip(flip(ct, envelope.PreambleSize+100, 1), envelope.PreambleSize+envelope.SlotSize+100, 1)
	expectFailure(t, kms, both, envelope.ErrUnauthenticated)
}

func TestTamperWrongKeyVersion(t *testing.T) {
	kms := newKMS(t, 2) // versions 1 and 2 exist; wraps under 2
	ct, _ := sample(t, kms, false)
	bad := bytes.Clone(ct)
	for _, pos := range []int{0, 1} {
		v := envelope.PreambleSize + pos*envelope.SlotSize + 24
		if bad[v+3] == 2 {
			bad[v+3] = 1 // claims version 1, wrapped under 2
		}
	}
	expectFailure(t, kms, bad, envelope.ErrUnauthenticated)
}

// chunkOff returns the ciphertext offset of chunk i in a 4 KiB-chunk file.
func chunkOff(i int) int { return envelope.HeaderSize + i*(tc4k+envelope.ChunkOverhead) }

func TestTamperChunk(t *testing.T) {
	kms := newKMS(t, 1)
	ct, plain := sample(t, kms, false)
	for _, tc := range []struct {
		name string
		off  int
	}{
		{"nonce", chunkOff(1)},
		{"ciphertext", chunkOff(1) + 12 + 100},
		{"tag", chunkOff(2) - 1},
		{"last chunk tag", len(ct) - 1},
		{"last chunk nonce", chunkOff(3) + 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := flip(ct, tc.off, 0x20)
			expectFailure(t, kms, bad, envelope.ErrUnauthenticated)
			idx := int64((tc.off - envelope.HeaderSize) / (tc4k + envelope.ChunkOverhead))
			checkOnlyChunkFails(t, kms, bad, plain, idx)
		})
	}
}

// checkOnlyChunkFails requires reads touching chunk idx to fail with a
// *ChunkError naming idx, and all other chunks to read correctly.
func checkOnlyChunkFails(t *testing.T, kms *testkms.Service, ct, plain []byte, idx int64) {
	t.Helper()
	f, err := envelope.Open(bg, memfile.New(ct), kms, tc4k)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for i := int64(0); i*tc4k < int64(len(plain)); i++ {
		p := make([]byte, min(tc4k, int64(len(plain))-i*tc4k))
		_, err := f.ReadAt(p, i*tc4k)
		if i != idx {
			if err != nil && err != io.EOF {
				t.Errorf("chunk %d: %v", i, err)
			}
			mustEqual(t, fmt.Sprintf("chunk %d", i), p, plain[i*tc4k:i*tc4k+int64(len(p))])
			continue
		}
		var ce *envelope.ChunkError
		if !errors.As(err, &ce) || ce.Index != idx || !errors.Is(err, envelope.ErrUnauthenticated) {
			t.Errorf("chunk %d: %v, want *ChunkError{Index: %d} wrapping ErrUnauthenticated", i, err, idx)
		}
		if !bytes.Equal(p, make([]byte, len(p))) {
			t.Errorf("chunk %d: plaintext returned for a failed chunk", i)
		}
	}
}

func TestTamperChunkMoves(t *testing.T) {
	kms := newKMS(t, 1)
	ct, _ := sample(t, kms, false)
	other, _ := sample(t, kms, false) // same key, different file ID and DEK
	stored := tc4k + envelope.ChunkOverhead
	swapped := bytes.Clone(ct)
	copy(swapped[chunkOff(0):], ct[chunkOff(1):chunkOff(2)])
	copy(swapped[chunkOff(1):], ct[chunkOff(0):chunkOff(1)])
	copied := bytes.Clone(ct)
	copy(copied[chunkOff(1):], other[chunkOff(1):chunkOff(1)+stored])
	dup := bytes.Clone(ct)
	copy(dup[chunkOff(2):], ct[chunkOff(1):chunkOff(2)])
	extraChunk := append(bytes.Clone(ct[:chunkOff(3)]), ct[chunkOff(2):chunkOff(3)]...)
	extraChunk = append(extraChunk, ct[chunkOff(3):]...)
	for name, bad := range map[string][]byte{
		"swapped": swapped, "copied from other file": copied, "duplicated": dup,
		"chunk inserted": extraChunk,
		"bytes appended": append(bytes.Clone(ct), 1, 2, 3),
	} {
		t.Run(name, func(t *testing.T) { expectFailure(t, kms, bad, envelope.ErrUnauthenticated) })
	}
}

func TestTamperZeroChunks(t *testing.T) {
	kms := newKMS(t, 1)
	ct, plain := sample(t, kms, false)
	stored := tc4k + envelope.ChunkOverhead

	// A zeroed full inner chunk is a hole: it reads as zeros (documented
	// weakness, FORMAT.md "Threat model").
	hole := bytes.Clone(ct)
	clear(hole[chunkOff(1) : chunkOff(1)+stored])
	got, err := decryptFile(kms, hole)
	if err != nil {
		t.Fatal(err)
	}
	want := bytes.Clone(plain)
	clear(want[tc4k : 2*tc4k])
	mustEqual(t, "hole", got, want)

	// A zero nonce on a chunk that is not all zero fails.
	zn := bytes.Clone(ct)
	clear(zn[chunkOff(1) : chunkOff(1)+12])
	expectFailure(t, kms, zn, envelope.ErrUnauthenticated)

	// The last chunk is never a hole, even when zeroed.
	zl := bytes.Clone(ct)
	clear(zl[chunkOff(3):])
	expectFailure(t, kms, zl, envelope.ErrUnauthenticated)

	// A full-size last chunk of zeros is not a hole either.
	full := append(bytes.Clone(ct[:chunkOff(3)]), make([]byte, stored)...)
	expectFailure(t, kms, full, envelope.ErrUnauthenticated)
}

func TestTamperTruncation(t *testing.T) {
	kms := newKMS(t, 1)
	ct, _ := sample(t, kms, false)
	for _, tc := range []struct {
		name string
		size int
		want error
	}{
		{"below floor at chunk boundary", chunkOff(3), envelope.ErrTruncated},
		{"below floor, 2 chunks", chunkOff(2), envelope.ErrTruncated},
		{"header only", envelope.HeaderSize, envelope.ErrTruncated},
		{"partial header", 300, envelope.ErrTruncated},
		{"torn tail of 1 byte", chunkOff(3) + 1, envelope.ErrTruncated},
		{"torn tail of 28 bytes", chunkOff(3) + 28, envelope.ErrTruncated},
		{"torn tail of 29 bytes", chunkOff(3) + 29, envelope.ErrTruncated},
		{"last chunk cut short", len(ct) - 1, envelope.ErrTruncated},
	} {
		t.Run(tc.name, func(t *testing.T) { expectFailure(t, kms, ct[:tc.size], tc.want) })
	}
}

// TestTruncationAboveFloor cuts a file whose floor is 0 (a non-seekable
// stream): torn tails are still caught, a cut at a chunk boundary is not
// (documented, FORMAT.md "Truncation detection").
func TestTruncationAboveFloor(t *testing.T) {
	kms := newKMS(t, 1)
	var buf bytes.Buffer
	w, err := envelope.NewWriter(bg, &buf, kms, tc4k)
	if err != nil {
		t.Fatal(err)
	}
	plain := pattern(3*tc4k+1000, "nofloor")
	if _, err := w.Write(plain); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	ct := buf.Bytes()
	for _, tc := range []struct {
		name string
		size int
		want error
	}{
		{"torn tail of 28 bytes", chunkOff(3) + 28, envelope.ErrTruncated},
		{"torn tail of 29 bytes", chunkOff(3) + 29, envelope.ErrUnauthenticated},
		{"last chunk cut short", len(ct) - 1, envelope.ErrUnauthenticated},
	} {
		t.Run(tc.name, func(t *testing.T) { expectFailure(t, kms, ct[:tc.size], tc.want) })
	}
	got, err := decryptFile(kms, ct[:chunkOff(3)])
	if err != nil {
		t.Fatalf("cut at a chunk boundary above the floor: %v", err)
	}
	mustEqual(t, "cut", got, plain[:3*tc4k])
	// Cut to zero bytes: a valid empty file (documented, FORMAT.md 2.1).
	if got, err := decryptFile(kms, nil); err != nil || len(got) != 0 {
		t.Errorf("empty file: %d bytes, %v", len(got), err)
	}
}

func TestUnwrapErrorsAreNotRetried(t *testing.T) {
	kms := newKMS(t, 1)
	ct, _ := sample(t, kms, true)
	kms.SetDisabled(true)
	_, err := decryptFile(kms, ct)
	if !errors.Is(err, testkms.ErrDisabled) || errors.Is(err, envelope.ErrUnauthenticated) {
		t.Errorf("disabled key: %v, want ErrDisabled and not ErrUnauthenticated", err)
	}
	if err := envelope.Verify(bg, memfile.New(ct), kms, true); !errors.Is(err, testkms.ErrDisabled) {
		t.Errorf("Verify with disabled key: %v", err)
	}
}

func TestCriticalExtension(t *testing.T) {
	for _, tc := range []struct {
		ext  envelope.Extension
		want error
	}{
		{envelope.Extension{Type: 0x8001, Value: []byte("must know")}, envelope.ErrCriticalExtension},
		{envelope.Extension{Type: 0x0001, Value: []byte("may ignore")}, nil},
	} {
		kms := newKMS(t, 2)
		b := &memfile.File{}
		f, err := envelope.Create(bg, b, kms, tc4k)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteAt([]byte("hello"), 0); err != nil {
			t.Fatal(err)
		}
		if err := f.CommitExtensions([]envelope.Extension{tc.ext}); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		_, err = decryptFile(kms, b.Bytes())
		if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
			t.Errorf("extension %#x: %v, want %v", tc.ext.Type, err, tc.want)
		}
		if tc.want != nil {
			if !errors.Is(err, envelope.ErrBadHeader) {
				t.Errorf("critical extension error does not match ErrBadHeader")
			}
			continue
		}
		// A non-critical extension survives header rewrites.
		kms.SetCurrent(1)
		if changed, _, _, err := envelope.RewrapFile(bg, b, kms, kms, true); err != nil || !changed {
			t.Fatalf("RewrapFile: %v, %v", changed, err)
		}
		h, err := envelope.ReadHeader(bg, b, kms)
		if err != nil || len(h.Extensions) != 1 || !bytes.Equal(h.Extensions[0].Value, tc.ext.Value) {
			t.Errorf("after rewrap: extensions %+v, %v", h, err)
		}
	}
}
