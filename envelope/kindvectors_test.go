package envelope_test

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"testing"

	"github.com/kmsfs/kmsfs/envelope"
	"github.com/kmsfs/kmsfs/internal/memfile"
)

// kmsVectors are the vectors of the KMS slot kind (FORMAT.md §4.6, §12),
// written through the test KMS with blobs padded to blobLen.
func kmsVectors(t *testing.T) []*vector {
	base := kmsVector(t, "kms-two-chunks", "KMS slots (version 2), 184-byte blobs as AWS KMS returns for a 32-byte key; 2C+1 bytes, closed: slot B gen 2 current", 184, 2*envelope.MinChunkSize+1)
	blobAt := func(pos, i int) int { return slotOff(pos, 34+i) }
	other := kmsVector(t, "kms-other", "", 184, 2*envelope.MinChunkSize+1)
	return []*vector{
		base,
		kmsVector(t, "kms-max-blob", "KMS slots with a 190-byte blob, the largest that fits; 100 bytes", envelope.MaxKMSBlobLen, 100),
		kmsVector(t, "kms-short-blob", "KMS slots with an 80-byte blob and room for extensions; 1 byte", 80, 1),
		base.derive("kms-blob-flipped", expAuth, "a blob byte flipped in both slots", func(ct []byte) []byte {
			ct[blobAt(0, 40)] ^= 1
			ct[blobAt(1, 40)] ^= 1
			return ct
		}),
		base.derive("kms-blob-length-over", expHeader, "blob length 191 in both slots: no slot parses", func(ct []byte) []byte {
			binary.BigEndian.PutUint16(ct[slotOff(0, 32):], envelope.MaxKMSBlobLen+1)
			binary.BigEndian.PutUint16(ct[slotOff(1, 32):], envelope.MaxKMSBlobLen+1)
			return ct
		}),
		base.derive("kms-no-flag", expHeader, "version 2 preamble with flags 0: the KMS flag is required", func(ct []byte) []byte {
			ct[15] = 0
			return ct
		}),
		base.derive("kms-slots-from-other-file", expAuth, "both slots copied from another KMS-kind file under the same key", func(ct []byte) []byte {
			copy(ct[envelope.PreambleSize:envelope.HeaderSize], other.ct[envelope.PreambleSize:envelope.HeaderSize])
			return ct
		}),
	}
}

func kmsVector(t *testing.T, name, comment string, blobLen, size int) *vector {
	ks := newTestKMS(t, blobLen)
	ks.inner.SetRand(newDetRand("kms " + name))
	b := &memfile.File{}
	f, err := envelope.CreateWith(bg, b, ks, envelope.MinChunkSize, newDetRand("file "+name), 1)
	if err != nil {
		t.Fatal(err)
	}
	p := pattern(size, name)
	if _, err := f.WriteAt(p, 0); err != nil {
		t.Fatal(err)
	}
	dek, id := f.DEK(), f.FileID()
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return &vector{name: name, expect: expSuccess, comment: comment, chunkSize: envelope.MinChunkSize,
		versions: []uint32{1}, dek: dek, fileID: id[:], plain: p, ct: b.Bytes(), blobLen: blobLen}
}

// checkKMSVector checks a KMS-kind vector with the test KMS it names.
func checkKMSVector(t *testing.T, pv *parsedVector) {
	n, err := strconv.Atoi(pv.fields["kms blob size"])
	if err != nil {
		t.Fatal(err)
	}
	ks := newTestKMS(t, n)
	want := map[string]error{expHeader: envelope.ErrBadHeader, expAuth: envelope.ErrUnauthenticated, expTrunc: envelope.ErrTruncated}
	got, err := openAll(ks, pv.ct)
	if exp := pv.fields["expect"]; exp != expSuccess {
		if !errors.Is(err, want[exp]) || got != nil {
			t.Fatalf("err = %v, want %v", err, want[exp])
		}
		if err := envelope.Verify(bg, memfile.New(pv.ct), ks, false); !errors.Is(err, want[exp]) {
			t.Errorf("Verify = %v, want %v", err, want[exp])
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if sum := fmt.Sprintf("%x", sha256.Sum256(got)); sum != pv.fields["plaintext-sha256"] || strconv.Itoa(len(got)) != pv.fields["plaintext size"] {
		t.Errorf("plaintext: %d bytes, sha256 %s", len(got), sum)
	}
	f, err := envelope.Open(bg, memfile.New(pv.ct), ks, envelope.DefaultChunkSize)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	id := f.FileID()
	if hexOrDash(f.DEK()) != pv.fields["dek"] || hex.EncodeToString(id[:]) != pv.fields["file id"] {
		t.Errorf("dek or file id differ from the vector")
	}
	if err := envelope.Verify(bg, memfile.New(pv.ct), ks, false); err != nil {
		t.Errorf("Verify: %v", err)
	}
}
