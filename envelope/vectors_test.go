package envelope_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/kmsfs/kmsfs/envelope"
	"github.com/kmsfs/kmsfs/internal/memfile"
	"github.com/kmsfs/kmsfs/internal/testkms"
)

var update = flag.Bool("update", false, "regenerate testdata/vectors (needs a FORMAT.md changelog entry)")

const vectorDir = "../testdata/vectors"

// Vector expectations (FORMAT.md, "Test vectors").
const (
	expSuccess = "success"
	expHeader  = "header failure"
	expAuth    = "auth failure"
	expTrunc   = "truncated"
)

// vector is one test vector file.
type vector struct {
	name, expect, comment string
	chunkSize             int
	versions              []uint32 // master key versions the reader needs
	dek, fileID           []byte   // nil: "-"
	blobLen               int      // > 0: a KMS-kind vector whose test KMS pads blobs to this length (FORMAT.md §12)
	plain                 []byte   // the (intended) plaintext
	ct                    []byte
}

// encode renders v in the vector file format.
func (v *vector) encode() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "name: %s\nexpect: %s\nchunk size: %d\nmaster key id: %x\n", v.name, v.expect, v.chunkSize, testKeyID)
	for _, ver := range v.versions {
		fmt.Fprintf(&b, "master key v%d: %x\n", ver, masterKey(ver))
	}
	if v.blobLen > 0 {
		fmt.Fprintf(&b, "kms blob size: %d\n", v.blobLen)
	}
	fmt.Fprintf(&b, "dek: %s\nfile id: %s\nplaintext size: %d\nplaintext-sha256: %x\ncomment: %s\n\n",
		hexOrDash(v.dek), hexOrDash(v.fileID), len(v.plain), sha256.Sum256(v.plain), v.comment)
	for i := 0; i < len(v.ct); i += 32 {
		fmt.Fprintf(&b, "%x\n", v.ct[i:min(i+32, len(v.ct))])
	}
	return b.Bytes()
}

func hexOrDash(b []byte) string {
	if b == nil {
		return "-"
	}
	return hex.EncodeToString(b)
}

// parsedVector is a vector file as read back: header fields and ciphertext.
type parsedVector struct {
	fields map[string]string
	keys   map[uint32][]byte
	ct     []byte
}

func parseVector(data []byte) (*parsedVector, error) {
	head, body, ok := bytes.Cut(data, []byte("\n\n"))
	if !ok {
		return nil, errors.New("no blank line after the header")
	}
	pv := &parsedVector{fields: map[string]string{}, keys: map[uint32][]byte{}}
	for _, line := range strings.Split(string(head), "\n") {
		k, val, ok := strings.Cut(line, ": ")
		if !ok {
			return nil, fmt.Errorf("bad header line %q", line)
		}
		if ver, isKey := strings.CutPrefix(k, "master key v"); isKey {
			n, err := strconv.ParseUint(ver, 10, 32)
			key, err2 := hex.DecodeString(val)
			if err != nil || err2 != nil {
				return nil, fmt.Errorf("bad key line %q", line)
			}
			pv.keys[uint32(n)] = key
			continue
		}
		pv.fields[k] = val
	}
	ct, err := hex.DecodeString(strings.ReplaceAll(string(body), "\n", ""))
	if err != nil {
		return nil, fmt.Errorf("ciphertext: %w", err)
	}
	pv.ct = ct
	return pv, nil
}

// kms returns a KeyService holding exactly the vector's master keys.
func (pv *parsedVector) kms(t *testing.T) *testkms.Service {
	t.Helper()
	id, err := hex.DecodeString(pv.fields["master key id"])
	if err != nil || len(id) != 16 {
		t.Fatalf("bad master key id %q", pv.fields["master key id"])
	}
	var latest uint32
	for v := range pv.keys {
		latest = max(latest, v)
	}
	return testkms.New([16]byte(id), pv.keys, latest)
}

func readVectors(t *testing.T) map[string][]byte {
	t.Helper()
	return readVectorDir(t, vectorDir)
}

// readVectorDir reads the *.vec files of dir by name. Only -update may
// find none: it is about to write them.
func readVectorDir(t testing.TB, dir string) map[string][]byte {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "*.vec"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out[strings.TrimSuffix(filepath.Base(p), ".vec")] = b
	}
	if len(out) == 0 && !*update {
		t.Fatal("no vectors in " + dir)
	}
	return out
}

// TestVectors checks every committed vector against its expectation. It
// never regenerates them.
func TestVectors(t *testing.T) {
	seen := map[string]int{}
	for name, data := range readVectors(t) {
		t.Run(name, func(t *testing.T) {
			pv, err := parseVector(data)
			if err != nil {
				t.Fatal(err)
			}
			seen[pv.fields["expect"]]++
			checkVector(t, pv)
		})
	}
	for _, e := range []string{expSuccess, expHeader, expAuth, expTrunc} {
		if seen[e] == 0 {
			t.Errorf("no vector expects %q", e)
		}
	}
}

func checkVector(t *testing.T, pv *parsedVector) {
	if _, ok := pv.fields["kms blob size"]; ok {
		checkKMSVector(t, pv)
		return
	}
	kms := pv.kms(t)
	want := map[string]error{expHeader: envelope.ErrBadHeader, expAuth: envelope.ErrUnauthenticated, expTrunc: envelope.ErrTruncated}
	exp := pv.fields["expect"]
	if exp == expSuccess {
		checkSuccessVector(t, pv, kms)
		return
	}
	sentinel, ok := want[exp]
	if !ok {
		t.Fatalf("unknown expectation %q", exp)
	}
	expectFailure(t, kms, pv.ct, sentinel)
	if err := envelope.Verify(bg, memfile.New(pv.ct), kms, false); !errors.Is(err, sentinel) {
		t.Errorf("Verify = %v, want %v", err, sentinel)
	}
}

func checkSuccessVector(t *testing.T, pv *parsedVector, kms *testkms.Service) {
	f, err := envelope.Open(bg, memfile.New(pv.ct), kms, envelope.DefaultChunkSize)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got := readAll(t, f)
	if sum := fmt.Sprintf("%x", sha256.Sum256(got)); sum != pv.fields["plaintext-sha256"] || strconv.Itoa(len(got)) != pv.fields["plaintext size"] {
		t.Errorf("plaintext: %d bytes, sha256 %s; want %s bytes, %s", len(got), sum, pv.fields["plaintext size"], pv.fields["plaintext-sha256"])
	}
	if len(pv.ct) > 0 && strconv.Itoa(f.ChunkSize()) != pv.fields["chunk size"] {
		t.Errorf("chunk size %d, vector says %s", f.ChunkSize(), pv.fields["chunk size"])
	}
	if dek := hexOrDash(f.DEK()); dek != pv.fields["dek"] {
		t.Errorf("dek %s, vector says %s", dek, pv.fields["dek"])
	}
	if id := f.FileID(); pv.fields["file id"] != "-" && hex.EncodeToString(id[:]) != pv.fields["file id"] {
		t.Errorf("file id %x, vector says %s", id, pv.fields["file id"])
	}
	stream, err := decryptStream(kms, pv.ct)
	if err != nil || !bytes.Equal(stream, got) {
		t.Errorf("stream: %v", err)
	}
	if err := envelope.Verify(bg, memfile.New(pv.ct), kms, false); err != nil {
		t.Errorf("Verify: %v", err)
	}
}

// TestVectorsReproducible regenerates the vectors in memory and requires
// them to match the committed files byte for byte; with -update it
// rewrites the files instead.
func TestVectorsReproducible(t *testing.T) {
	checkReproducible(t, vectorDir, "vector", generateVectors(t))
}

// checkReproducible requires the vectors vs to match the files of dir byte
// for byte, and every file to be one of them; with -update it rewrites
// the files instead. kind names them in failures.
func checkReproducible(t *testing.T, dir, kind string, vs []*vector) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, v := range vs {
			if err := os.WriteFile(filepath.Join(dir, v.name+".vec"), v.encode(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return
	}
	files := readVectorDir(t, dir)
	for _, v := range vs {
		if !bytes.Equal(files[v.name], v.encode()) {
			t.Errorf("%s %s differs from the generator (run with -update only with a FORMAT.md changelog entry)", kind, v.name)
		}
		delete(files, v.name)
	}
	for name := range files {
		t.Errorf("%s %s is not produced by the generator", kind, name)
	}
}

// gen builds a vector by running write on a new File with deterministic
// randomness seeded by seed, under master key versions 1..versions.
type gen struct {
	t        *testing.T
	c        int
	versions uint32
	kms      *testkms.Service
	b        *memfile.File
	f        *envelope.File
	dek, id  []byte
}

func newGen(t *testing.T, seed string, c int, versions uint32) *gen {
	kms := newKMS(t, versions)
	kms.SetRand(newDetRand("kms " + seed))
	b := &memfile.File{}
	f, err := envelope.OpenWith(bg, b, kms, c, newDetRand("file "+seed), 1)
	if err != nil {
		t.Fatal(err)
	}
	return &gen{t: t, c: c, versions: versions, kms: kms, b: b, f: f}
}

func (g *gen) write(p []byte, off int64) {
	if _, err := g.f.WriteAt(p, off); err != nil {
		g.t.Fatal(err)
	}
}

// done closes the File (committing the size floor) and returns the
// vector.
func (g *gen) done(name, comment string, plain []byte) *vector {
	if plain == nil {
		plain = []byte{}
	}
	if d := g.f.DEK(); d != nil {
		g.dek = d
		id := g.f.FileID()
		g.id = id[:]
	}
	if err := g.f.Close(); err != nil {
		g.t.Fatal(err)
	}
	vs := make([]uint32, 0, g.versions)
	for v := uint32(1); v <= g.versions; v++ {
		vs = append(vs, v)
	}
	return &vector{name: name, expect: expSuccess, comment: comment, chunkSize: g.c, versions: vs,
		dek: g.dek, fileID: g.id, plain: plain, ct: g.b.Bytes()}
}

// derive copies v as a negative vector with a modified ciphertext.
func (v *vector) derive(name, expect, comment string, modify func(ct []byte) []byte) *vector {
	d := *v
	d.name, d.expect, d.comment = name, expect, comment
	d.ct = modify(bytes.Clone(v.ct))
	if expect == expHeader {
		d.dek, d.fileID = nil, nil
	}
	return &d
}

func generateVectors(t *testing.T) []*vector {
	const c = envelope.MinChunkSize
	var vs []*vector
	simple := func(name, comment string, c, size int) *vector {
		g := newGen(t, name, c, 1)
		p := pattern(size, name)
		if size > 0 {
			g.write(p, 0)
		}
		return g.done(name, comment, p)
	}
	vs = append(vs,
		simple("empty", "0-byte ciphertext file: empty plaintext, no header", c, 0),
		simple("one-byte", "1 byte, one short chunk", c, 1),
		simple("chunk-minus-one", "C-1 bytes", c, c-1),
		simple("one-chunk", "exactly C bytes, one full chunk", c, c),
		simple("chunk-plus-one", "C+1 bytes, a 1-byte last chunk", c, c+1),
		simple("c64k-100", "100 bytes with 64 KiB chunks", envelope.DefaultChunkSize, 100),
	)
	base := twoSlotBase(t)
	vs = append(vs, base, headerOnly(t), sparse(t), rewrapVector(t), extensionVector(t, 0x0001))
	vs = append(vs, negativeVectors(t, base)...)
	vs = append(vs, kmsVectors(t)...)
	return vs
}

// twoSlotBase is 2C+500 bytes written in two steps with a Sync between,
// so both slots are in use and the floor is the full size.
func twoSlotBase(t *testing.T) *vector {
	const c = envelope.MinChunkSize
	g := newGen(t, "two-chunks-500", c, 1)
	p := pattern(2*c+500, "two-chunks-500")
	g.write(p[:c+10], 0)
	if err := g.f.Sync(); err != nil {
		t.Fatal(err)
	}
	g.write(p[c+10:], c+10)
	return g.done("two-chunks-500", "2C+500 bytes; synced at C+10 bytes, closed at 2C+500: slot A gen 3 current (floor 8692), slot B gen 2 (floor 4106)", p)
}

func headerOnly(t *testing.T) *vector {
	kms := newKMS(t, 1)
	kms.SetRand(newDetRand("kms header-only"))
	var buf bytes.Buffer
	w, err := envelope.NewWriterWith(bg, &buf, kms, envelope.MinChunkSize, newDetRand("file header-only"))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	v := &vector{name: "header-only", expect: expSuccess, comment: "544-byte header, no chunks: empty plaintext (streaming writer, floor 0)",
		chunkSize: envelope.MinChunkSize, versions: []uint32{1}, plain: []byte{}, ct: buf.Bytes()}
	f, err := envelope.Open(bg, memfile.New(v.ct), kms, envelope.MinChunkSize)
	if err != nil {
		t.Fatal(err)
	}
	v.dek = f.DEK()
	id := f.FileID()
	v.fileID = id[:]
	return v
}

func sparse(t *testing.T) *vector {
	const c = envelope.MinChunkSize
	g := newGen(t, "sparse", c, 1)
	p := make([]byte, 3*c+10)
	copy(p, "start")
	copy(p[3*c+5:], "end!!")
	g.write(p[:5], 0)
	g.write(p[3*c+5:], 3*c+5)
	return g.done("sparse", "\"start\" at 0, \"end!!\" at 3C+5: chunk 0 zero-padded to C, chunks 1-2 are holes (all-zero ciphertext)", p)
}

func rewrapVector(t *testing.T) *vector {
	g := newGen(t, "rewrapped", envelope.MinChunkSize, 2)
	g.kms.SetCurrent(1) // the header is created, and wrapped, on the first write
	p := pattern(5000, "rewrapped")
	g.write(p, 0)
	g.kms.SetCurrent(2)
	if changed, err := g.f.Rewrap(bg, g.kms); err != nil || !changed {
		t.Fatalf("Rewrap: %v, %v", changed, err)
	}
	return g.done("rewrapped", "wrapped under v1 (slot A gen 1), rewrapped online to v2 (slot B gen 2), then closed (slot A gen 3, v2, floor 5000)", p)
}

func extensionVector(t *testing.T, typ uint16) *vector {
	g := newGen(t, fmt.Sprintf("extension-%04x", typ), envelope.MinChunkSize, 1)
	p := pattern(100, "extension")
	g.write(p, 0)
	if err := g.f.CommitExtensions([]envelope.Extension{{Type: typ, Value: []byte("kmsfs test extension")}}); err != nil {
		t.Fatal(err)
	}
	name, comment := "noncritical-extension", "slot B carries an unknown non-critical extension (type 0x0001): ignored"
	if typ&0x8000 != 0 {
		name, comment = "critical-extension", "slot B carries an unknown critical extension (type 0x8001): the file MUST be rejected"
	}
	v := g.done(name, comment, p)
	if typ&0x8000 != 0 {
		v.expect, v.dek, v.fileID = expHeader, nil, nil
	}
	return v
}

// slotOff is the ciphertext offset of field off in slot pos.
func slotOff(pos, off int) int { return envelope.PreambleSize + pos*envelope.SlotSize + off }

func negativeVectors(t *testing.T, base *vector) []*vector {
	const c = envelope.MinChunkSize
	stored := c + envelope.ChunkOverhead
	co := func(i int) int { return envelope.HeaderSize + i*stored }
	other := newGen(t, "other-file", c, 1)
	other.write(pattern(2*c+500, "other-file"), 0)
	otherCT := other.done("other", "", nil).ct
	flipAt := func(off int) func([]byte) []byte {
		return func(ct []byte) []byte { ct[off] ^= 0x01; return ct }
	}
	set := func(off int, b ...byte) func([]byte) []byte {
		return func(ct []byte) []byte { copy(ct[off:], b); return ct }
	}
	vs := []*vector{
		base.derive("bad-magic", expHeader, "magic \"KMSFT\\0\"", set(4, 'T')),
		base.derive("bad-version", expHeader, "format version 2", set(7, 2)),
		base.derive("bad-flags", expHeader, "flags 0x0001", set(15, 1)),
		base.derive("bad-chunk-size", expHeader, "chunk size 6144, not a power of two", set(8, 0, 0, 0x18, 0)),
		base.derive("bad-slot-size", expHeader, "slot size 512", set(12, 2, 0)),
		base.derive("both-slots-empty", expHeader, "slots A and B zeroed", func(ct []byte) []byte {
			clear(ct[envelope.PreambleSize:envelope.HeaderSize])
			return ct
		}),
		base.derive("file-id-flipped", expAuth, "file ID bit flipped: the DEK unwrap (preamble AAD) fails for both slots", flipAt(20)),
		base.derive("slot-macs-flipped", expAuth, "last MAC byte of both slots flipped", func(ct []byte) []byte {
			ct[slotOff(0, 255)] ^= 1
			ct[slotOff(1, 255)] ^= 1
			return ct
		}),
		base.derive("wrapped-dek-flipped", expAuth, "a wrapped DEK byte flipped in both slots", func(ct []byte) []byte {
			ct[slotOff(0, 60)] ^= 1
			ct[slotOff(1, 60)] ^= 1
			return ct
		}),
		base.derive("committed-size-flipped", expAuth, "committed size changed in both slots (MAC fails)", func(ct []byte) []byte {
			ct[slotOff(0, 35)] ^= 1
			ct[slotOff(1, 35)] ^= 1
			return ct
		}),
		base.derive("chunk-nonce-flipped", expAuth, "chunk 1 nonce bit flipped", flipAt(co(1)+3)),
		base.derive("chunk-ciphertext-flipped", expAuth, "chunk 1 ciphertext bit flipped", flipAt(co(1)+12+1000)),
		base.derive("chunk-tag-flipped", expAuth, "chunk 0 tag bit flipped", flipAt(co(1)-1)),
		base.derive("chunks-swapped", expAuth, "chunks 0 and 1 swapped", func(ct []byte) []byte {
			c0 := bytes.Clone(ct[co(0):co(1)])
			copy(ct[co(0):], ct[co(1):co(2)])
			copy(ct[co(1):], c0)
			return ct
		}),
		base.derive("chunk-from-other-file", expAuth, "chunk 1 replaced by chunk 1 of another file under the same master key", func(ct []byte) []byte {
			copy(ct[co(1):co(2)], otherCT[co(1):co(2)])
			return ct
		}),
		base.derive("zero-nonce", expAuth, "chunk 0 nonce zeroed, rest intact: not a hole", set(co(0), make([]byte, 12)...)),
		base.derive("zeroed-last-chunk", expAuth, "last chunk zeroed: the last chunk is never a hole", func(ct []byte) []byte {
			clear(ct[co(2):])
			return ct
		}),
		base.derive("truncated-below-floor", expTrunc, "last chunk removed: size 2C below the committed 2C+500", func(ct []byte) []byte {
			return ct[:co(2)]
		}),
		base.derive("torn-tail", expTrunc, "last chunk cut to 20 bytes, too short to hold a chunk", func(ct []byte) []byte {
			return ct[:co(2)+20]
		}),
		base.derive("short-header", expTrunc, "file cut to 300 bytes, inside the header", func(ct []byte) []byte {
			return ct[:300]
		}),
		wrongVersion(t),
		tornSlot(t, base),
		extensionVector(t, 0x8001),
	}
	return vs
}

// wrongVersion claims version 1 in the slot of a DEK wrapped under v2.
func wrongVersion(t *testing.T) *vector {
	g := newGen(t, "wrong-key-version", envelope.MinChunkSize, 2)
	p := pattern(300, "wrong-key-version")
	g.write(p, 0)
	v := g.done("wrong-key-version", "", p)
	return v.derive("wrong-key-version", expAuth, "DEK wrapped under v2 in both slots; both slots claim v1", func(ct []byte) []byte {
		for pos := range 2 {
			if binary.BigEndian.Uint32(ct[slotOff(pos, 24):]) == 2 {
				binary.BigEndian.PutUint32(ct[slotOff(pos, 24):], 1)
			}
		}
		return ct
	})
}

// tornSlot overwrites the non-current slot of base with noise: readers use
// the current one.
func tornSlot(t *testing.T, base *vector) *vector {
	h, err := envelope.ReadHeader(bg, memfile.New(base.ct), newKMS(t, 1))
	if err != nil {
		t.Fatal(err)
	}
	pos := 1 - h.Slot
	v := base.derive("torn-other-slot", expSuccess, fmt.Sprintf("slot %c (not current) overwritten with noise, as by a torn write", 'A'+pos), func(ct []byte) []byte {
		copy(ct[slotOff(pos, 0):slotOff(pos, envelope.SlotSize)], pattern(envelope.SlotSize, "noise"))
		return ct
	})
	v.dek, v.fileID = base.dek, base.fileID
	return v
}

// vectorSeeds returns the ciphertexts of all vectors, for fuzz seeds.
func vectorSeeds(t testing.TB) [][]byte {
	paths, _ := filepath.Glob(filepath.Join(vectorDir, "*.vec"))
	var out [][]byte
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		pv, err := parseVector(data)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		out = append(out, pv.ct)
	}
	slices.SortFunc(out, bytes.Compare)
	return out
}
