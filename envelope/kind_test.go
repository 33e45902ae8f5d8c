package envelope_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/kmsfs/kmsfs/envelope"
	"github.com/kmsfs/kmsfs/internal/memfile"
	"github.com/kmsfs/kmsfs/internal/testkms"
)

// kmsWrapLen is the length of a testkms wrap (FORMAT.md §5.2): salt,
// encrypted DEK, tag.
const kmsWrapLen = testkms.SaltSize + envelope.DEKSize + 16

// kmsPad fills a test KMS blob after the wrap (FORMAT.md §12).
const kmsPad = 'K'

// testKMS is the KMS of the KMS-kind vectors and tests (FORMAT.md §12):
// its blob is the FORMAT.md §5.2 wrap of version 1 of the test master key, padded
// with 'K' bytes to blobLen, standing in for an AWS CiphertextBlob of
// that size. Its key references have no version, as a KMS slot's.
type testKMS struct {
	inner   *testkms.Service
	blobLen int
	keyID   [16]byte
}

func newTestKMS(t testing.TB, blobLen int) *testKMS {
	return &testKMS{inner: newKMS(t, 1), blobLen: blobLen, keyID: testKeyID}
}

func (k *testKMS) SlotKind() envelope.SlotKind { return envelope.KindKMS }

func (k *testKMS) WrapKey(ctx context.Context, dek, aad []byte) (envelope.KeyRef, []byte, error) {
	_, w, err := k.inner.WrapKey(ctx, dek, aad)
	if err != nil {
		return envelope.KeyRef{}, nil, err
	}
	if k.blobLen > len(w) {
		w = append(w, bytes.Repeat([]byte{kmsPad}, k.blobLen-len(w))...)
	}
	return envelope.KeyRef{KeyID: k.keyID}, w, nil
}

func (k *testKMS) UnwrapKey(ctx context.Context, ref envelope.KeyRef, blob, aad []byte) ([]byte, error) {
	if ref.Version != 0 || len(blob) < kmsWrapLen || len(bytes.Trim(blob[kmsWrapLen:], string(rune(kmsPad)))) != 0 {
		return nil, envelope.ErrUnauthenticated
	}
	return k.inner.UnwrapKey(ctx, envelope.KeyRef{KeyID: testKeyID, Version: 1}, blob[:kmsWrapLen], aad)
}

// kmsFile writes n bytes with a KMS-kind key service and returns the
// ciphertext and plaintext.
func kmsFile(t *testing.T, ks envelope.KeyService, n int) (ct, plain []byte) {
	t.Helper()
	b := &memfile.File{}
	f, err := envelope.Create(bg, b, ks, envelope.MinChunkSize)
	if err != nil {
		t.Fatal(err)
	}
	plain = pattern(n, fmt.Sprint("kms ", n))
	if _, err := f.WriteAt(plain, 0); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes(), plain
}

// openAll decrypts ct with ks through a File and through the stream
// reader, requiring both to agree.
func openAll(ks envelope.KeyService, ct []byte) ([]byte, error) {
	f, err := envelope.Open(bg, memfile.New(ct), ks, envelope.MinChunkSize)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := make([]byte, f.Size()+1)
	n, err := f.ReadAt(out, 0)
	if err != io.EOF {
		return nil, fmt.Errorf("reading to the end: %d bytes, %w", n, err)
	}
	r, err := envelope.NewReader(bg, bytes.NewReader(ct), ks)
	if err != nil {
		return nil, err
	}
	s, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(s, out[:n]) {
		return nil, errors.New("stream and file disagree")
	}
	return out[:n], nil
}

func TestKMSKindRoundTrip(t *testing.T) {
	for _, blobLen := range []int{kmsWrapLen, 184, envelope.MaxKMSBlobLen} {
		for _, n := range []int{0, 1, envelope.MinChunkSize + 1} {
			t.Run(fmt.Sprintf("blob=%d,len=%d", blobLen, n), func(t *testing.T) {
				ks := newTestKMS(t, blobLen)
				ct, plain := kmsFile(t, ks, n)
				if n == 0 {
					return // an empty file has no header
				}
				pre, err := envelope.ParsePreamble(ct[:envelope.PreambleSize])
				if err != nil || pre.Version != envelope.VersionKMS || pre.Flags != envelope.FlagKMS || pre.Kind() != envelope.KindKMS {
					t.Fatalf("preamble %+v, %v: want version 2, flag KMS", pre, err)
				}
				got, err := openAll(ks, ct)
				if err != nil {
					t.Fatal(err)
				}
				mustEqual(t, "plaintext", got, plain)
				h, err := envelope.ReadHeader(bg, memfile.New(ct), ks)
				if err != nil || h.Kind != envelope.KindKMS || h.KeyRef != (envelope.KeyRef{KeyID: testKeyID}) {
					t.Fatalf("ReadHeader = %+v, %v", h, err)
				}
				refs, err := envelope.ReadSlotRefs(memfile.New(ct))
				if err != nil || refs.Newest != h.KeyRef || !refs.Names(testKeyID) {
					t.Fatalf("ReadSlotRefs = %+v, %v", refs, err)
				}
			})
		}
	}
}

func TestKMSKindBlobTooLong(t *testing.T) {
	b := &memfile.File{}
	f, err := envelope.Create(bg, b, newTestKMS(t, envelope.MaxKMSBlobLen+1), envelope.MinChunkSize)
	if err == nil {
		_, err = f.WriteAt([]byte("x"), 0)
		f.Close()
	}
	if !errors.Is(err, envelope.ErrBadHeader) {
		t.Fatalf("blob of %d bytes: err = %v, want ErrBadHeader", envelope.MaxKMSBlobLen+1, err)
	}
}

// TestKMSKindMismatch: a key service of the other kind cannot open a file,
// and says so with ErrKeyUnavailable (the data is intact).
func TestKMSKindMismatch(t *testing.T) {
	kmsCT, _ := kmsFile(t, newTestKMS(t, 184), 100)
	localCT, _ := kmsFile(t, newKMS(t, 1), 100)
	for _, tt := range []struct {
		name string
		ks   envelope.KeyService
		ct   []byte
	}{
		{"kms file, local service", newKMS(t, 1), kmsCT},
		{"local file, kms service", newTestKMS(t, 184), localCT},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := openAll(tt.ks, tt.ct); !errors.Is(err, envelope.ErrKeyUnavailable) {
				t.Fatalf("err = %v, want ErrKeyUnavailable", err)
			}
		})
	}
}

// TestKMSKindRewrapMismatch: rewrapping a local file with a KMS-kind
// wrapper is refused and leaves the file readable.
func TestKMSKindRewrapMismatch(t *testing.T) {
	ct, plain := kmsFile(t, newKMS(t, 1), 100)
	b := memfile.New(ct)
	changed, _, _, err := envelope.RewrapFile(bg, b, newKMS(t, 1), newTestKMS(t, 184), true)
	if err == nil || changed {
		t.Fatalf("RewrapFile = %v, %v; want a refusal", changed, err)
	}
	got, err := openAll(newKMS(t, 1), b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	mustEqual(t, "plaintext", got, plain)
}

// TestKMSKindRewrap moves a KMS file to another KMS key: both slots end
// up naming it, and the file still reads.
func TestKMSKindRewrap(t *testing.T) {
	ks := newTestKMS(t, 184)
	ct, plain := kmsFile(t, ks, 5000)
	b := memfile.New(ct)
	other := *ks
	other.keyID[0] ^= 0xff
	changed, old, now, err := envelope.RewrapFile(bg, b, ks, &other, true)
	if err != nil || !changed || old.KeyID != testKeyID || now.KeyID != other.keyID || now.Version != 0 {
		t.Fatalf("RewrapFile = %v, %v -> %v, %v", changed, old, now, err)
	}
	refs, err := envelope.ReadSlotRefs(b)
	if err != nil || len(refs.All) != 2 || refs.All[0] != now || refs.All[1] != now {
		t.Fatalf("slot refs after rewrap = %+v, %v; want both %v", refs, err, now)
	}
	got, err := openAll(&other, b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	mustEqual(t, "plaintext", got, plain)
}

// TestKMSKindTamper flips every byte of the preamble, and every byte of
// the KMS slots (the same offset in both, since either alone may serve),
// one at a time: each fails with a sentinel, never with plaintext.
func TestKMSKindTamper(t *testing.T) {
	ks := newTestKMS(t, 184)
	ct, _ := kmsFile(t, ks, 300) // closed: slots A and B both valid
	for off := range envelope.PreambleSize + envelope.SlotSize {
		bad := bytes.Clone(ct)
		bad[off] ^= 0x01
		if off >= envelope.PreambleSize {
			bad[off+envelope.SlotSize] ^= 0x01
		}
		out, err := openAll(ks, bad)
		if err == nil || out != nil {
			t.Fatalf("byte %d flipped: opened (%d bytes)", off, len(out))
		}
		if !errors.Is(err, envelope.ErrUnauthenticated) && !errors.Is(err, envelope.ErrBadHeader) {
			t.Fatalf("byte %d flipped: err = %v, want ErrUnauthenticated or ErrBadHeader", off, err)
		}
	}
}

// TestKMSSlotFromOtherFile: a KMS slot copied into another file's header
// does not authenticate there, since the blob's AAD and the slot MAC bind
// the preamble and so the file ID.
func TestKMSSlotFromOtherFile(t *testing.T) {
	ks := newTestKMS(t, 184)
	a, _ := kmsFile(t, ks, 300)
	b, _ := kmsFile(t, ks, 300)
	copy(b[envelope.PreambleSize:envelope.HeaderSize], a[envelope.PreambleSize:envelope.HeaderSize])
	if _, err := openAll(ks, b); !errors.Is(err, envelope.ErrUnauthenticated) {
		t.Fatalf("err = %v, want ErrUnauthenticated", err)
	}
}

func TestKMSSlotEncoding(t *testing.T) {
	ok := envelope.Slot{Generation: 7, KeyRef: envelope.KeyRef{KeyID: testKeyID}, CommittedSize: 99,
		WrappedKey: bytes.Repeat([]byte{1}, 184), Extensions: []envelope.Extension{{Type: 1, Value: []byte("x")}}}
	b, err := ok.MarshalKind(envelope.KindKMS)
	if err != nil {
		t.Fatal(err)
	}
	if got := binary.BigEndian.Uint16(b[32:]); got != 184 {
		t.Fatalf("blob length field = %d", got)
	}
	back, err := envelope.ParseSlotKind(envelope.KindKMS, b)
	if err != nil {
		t.Fatal(err)
	}
	again, err := back.MarshalKind(envelope.KindKMS)
	if err != nil || !bytes.Equal(again, b) {
		t.Fatalf("parse -> marshal changed the slot (%v)", err)
	}
	for _, tt := range []struct {
		name string
		s    envelope.Slot
	}{
		{"empty blob", envelope.Slot{Generation: 1}},
		{"blob too long", envelope.Slot{Generation: 1, WrappedKey: make([]byte, envelope.MaxKMSBlobLen+1)}},
		{"key version", envelope.Slot{Generation: 1, KeyRef: envelope.KeyRef{Version: 1}, WrappedKey: []byte{1}}},
		{"extensions overrun", envelope.Slot{Generation: 1, WrappedKey: make([]byte, envelope.MaxKMSBlobLen-4),
			Extensions: []envelope.Extension{{Type: 1, Value: []byte("x")}}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tt.s.MarshalKind(envelope.KindKMS); !errors.Is(err, envelope.ErrBadHeader) {
				t.Fatalf("err = %v, want ErrBadHeader", err)
			}
		})
	}
	long := bytes.Clone(b)
	binary.BigEndian.PutUint16(long[32:], envelope.MaxKMSBlobLen+1)
	zero := bytes.Clone(b)
	binary.BigEndian.PutUint16(zero[32:], 0)
	for name, raw := range map[string][]byte{"length 191": long, "length 0": zero, "short": b[:100]} {
		if _, err := envelope.ParseSlotKind(envelope.KindKMS, raw); !errors.Is(err, envelope.ErrBadHeader) {
			t.Errorf("%s: err = %v, want ErrBadHeader", name, err)
		}
	}
}

func TestPreambleKinds(t *testing.T) {
	for _, tt := range []struct {
		version, flags uint16
		want           error
	}{
		{envelope.Version, 0, nil},
		{envelope.VersionKMS, envelope.FlagKMS, nil},
		{envelope.Version, envelope.FlagKMS, envelope.ErrUnsupportedFlags},
		{envelope.VersionKMS, 0, envelope.ErrUnsupportedFlags},
		{envelope.VersionKMS, envelope.FlagKMS | 2, envelope.ErrUnsupportedFlags},
		{3, envelope.FlagKMS, envelope.ErrUnsupportedVersion},
	} {
		t.Run(fmt.Sprintf("v%d,flags=%#x", tt.version, tt.flags), func(t *testing.T) {
			p := envelope.Preamble{Version: tt.version, Flags: tt.flags, ChunkSize: envelope.MinChunkSize, SlotSize: envelope.SlotSize}
			b, _ := p.MarshalBinary()
			if _, err := envelope.ParsePreamble(b); !errors.Is(err, tt.want) || (tt.want != nil && !errors.Is(err, envelope.ErrBadHeader)) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func FuzzParseKMSSlot(f *testing.F) {
	addSeeds(f, func(ct []byte) [][]byte {
		if len(ct) < envelope.HeaderSize || binary.BigEndian.Uint16(ct[6:]) != envelope.VersionKMS {
			return nil
		}
		return [][]byte{ct[envelope.PreambleSize : envelope.PreambleSize+envelope.SlotSize], ct[envelope.PreambleSize+envelope.SlotSize : envelope.HeaderSize]}
	})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := envelope.ParseSlotKind(envelope.KindKMS, b)
		if err != nil {
			return
		}
		out, err := s.MarshalKind(envelope.KindKMS)
		if err != nil || !bytes.Equal(out, b) {
			t.Fatalf("parse -> marshal changed the slot: %x -> %x (%v)", b, out, err)
		}
	})
}
