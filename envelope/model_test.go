package envelope_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/kmsfs/kmsfs/envelope"
	"github.com/kmsfs/kmsfs/internal/memfile"
	"github.com/kmsfs/kmsfs/internal/testkms"
)

// model runs random operations on a File and on a plain byte slice and
// requires them to agree.
type model struct {
	t    *testing.T
	rng  *rand.Rand
	c    int
	kms  *testkms.Service
	b    *memfile.Prealloc
	f    *envelope.File
	want []byte
	ops  map[string]int
}

func TestModel(t *testing.T) {
	const ops = 5000
	for _, c := range []int{envelope.MinChunkSize, envelope.DefaultChunkSize} {
		for _, seed := range []uint64{1, 2} {
			t.Run(fmt.Sprintf("c=%d,seed=%d", c, seed), func(t *testing.T) {
				m := newModel(t, c, seed)
				for i := range ops {
					m.step(i)
				}
				m.checkAll("end")
				t.Logf("ops: %v", m.ops)
			})
		}
	}
}

func newModel(t *testing.T, c int, seed uint64) *model {
	m := &model{
		t: t, c: c, rng: rand.New(rand.NewPCG(seed, uint64(c))),
		kms: newKMS(t, 1), b: &memfile.Prealloc{File: &memfile.File{}},
		ops: map[string]int{},
	}
	m.reopen()
	return m
}

// offset picks an offset around the current size, sometimes far past it.
func (m *model) offset() int64 {
	size := int64(len(m.want))
	switch m.rng.IntN(10) {
	case 0:
		return size + m.rng.Int64N(int64(40*m.c)) // far beyond EOF: holes
	case 1:
		return size // append
	case 2:
		return int64(m.rng.IntN(4)) * int64(m.c) // chunk boundary
	default:
		return m.rng.Int64N(size + int64(2*m.c) + 1)
	}
}

// length picks a request length from 0 to 3 chunks, favouring small ones.
func (m *model) length() int {
	switch m.rng.IntN(4) {
	case 0:
		return m.rng.IntN(16)
	case 1:
		return m.c
	default:
		return m.rng.IntN(3*m.c + 1)
	}
}

func (m *model) step(i int) {
	if len(m.want) > 64*m.c { // keep the model small
		m.truncate(int64(m.rng.IntN(8 * m.c)))
		return
	}
	switch r := m.rng.IntN(100); {
	case r < 40:
		m.write()
	case r < 75:
		m.read()
	case r < 88:
		m.truncate(m.truncSize())
	case r < 94:
		m.sync()
	default:
		m.reopen()
	}
	if i%250 == 0 {
		m.checkAll(fmt.Sprintf("op %d", i))
	}
}

func (m *model) write() {
	m.ops["write"]++
	off, n := m.offset(), m.length()
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(m.rng.UintN(255) + 1) // non-zero, so lost writes show
	}
	got, err := m.f.WriteAt(p, off)
	if err != nil || got != n {
		m.t.Fatalf("WriteAt(%d bytes at %d) = %d, %v", n, off, got, err)
	}
	if n == 0 {
		return // a zero-length write past the end does not extend
	}
	if end := off + int64(n); end > int64(len(m.want)) {
		m.want = append(m.want, make([]byte, end-int64(len(m.want)))...)
	}
	copy(m.want[off:], p)
}

func (m *model) read() {
	m.ops["read"]++
	off, n := m.offset(), m.length()
	p := make([]byte, n)
	got, err := m.f.ReadAt(p, off)
	wantN := max(0, min(int64(n), int64(len(m.want))-off))
	if int64(got) != wantN {
		m.t.Fatalf("ReadAt(%d at %d) = %d, %v; want %d bytes (size %d)", n, off, got, err, wantN, len(m.want))
	}
	if wantEOF := wantN < int64(n); wantEOF != (err == io.EOF) || (err != nil && err != io.EOF) {
		m.t.Fatalf("ReadAt(%d at %d): err %v, want EOF=%v", n, off, err, wantEOF)
	}
	if wantN > 0 && !bytes.Equal(p[:got], m.want[off:off+wantN]) {
		m.t.Fatalf("ReadAt(%d at %d): wrong data", n, off)
	}
}

func (m *model) truncSize() int64 {
	size := int64(len(m.want))
	switch m.rng.IntN(5) {
	case 0:
		return 0
	case 1:
		return size + m.rng.Int64N(int64(10*m.c))
	case 2:
		return size
	default:
		return m.rng.Int64N(size + 1)
	}
}

func (m *model) truncate(size int64) {
	m.ops["truncate"]++
	if err := m.f.Truncate(size); err != nil {
		m.t.Fatalf("Truncate(%d) from %d: %v", size, len(m.want), err)
	}
	if size <= int64(len(m.want)) {
		m.want = m.want[:size]
	} else {
		m.want = append(m.want, make([]byte, size-int64(len(m.want)))...)
	}
	if got := m.f.Size(); got != size {
		m.t.Fatalf("Size after Truncate(%d) = %d", size, got)
	}
}

func (m *model) sync() {
	m.ops["sync"]++
	if err := m.f.Sync(); err != nil {
		m.t.Fatalf("Sync: %v", err)
	}
	m.checkFloor()
}

// checkFloor requires the header's committed size to equal the size
// after a Sync or Close (nothing grown is left uncommitted).
func (m *model) checkFloor() {
	if len(m.want) == 0 {
		return
	}
	h, err := envelope.ReadHeader(bg, m.b, m.kms)
	if err != nil {
		m.t.Fatalf("ReadHeader: %v", err)
	}
	if h.CommittedSize != int64(len(m.want)) {
		m.t.Fatalf("committed size %d, want %d", h.CommittedSize, len(m.want))
	}
}

func (m *model) reopen() {
	m.ops["reopen"]++
	if m.f != nil {
		if err := m.f.Close(); err != nil {
			m.t.Fatalf("Close: %v", err)
		}
		m.checkFloor()
	}
	f, err := envelope.Open(bg, m.b, m.kms, m.c)
	if err != nil {
		m.t.Fatalf("Open: %v", err)
	}
	m.f = f
	if f.Size() != int64(len(m.want)) {
		m.t.Fatalf("reopened size %d, want %d", f.Size(), len(m.want))
	}
}

// checkAll compares the whole file and the ciphertext size, and verifies
// every chunk.
func (m *model) checkAll(when string) {
	mustEqual(m.t, when, readAll(m.t, m.f), m.want)
	if got, want := int64(len(m.b.Bytes())), envelope.CiphertextSize(int64(len(m.want)), m.c); len(m.want) > 0 && got != want {
		m.t.Fatalf("%s: ciphertext size %d, want %d", when, got, want)
	}
	if err := envelope.Verify(bg, m.b, m.kms, false); err != nil {
		m.t.Fatalf("%s: Verify: %v", when, err)
	}
}

// TestConcurrentSameRange has writers overwrite one range that starts and
// ends inside chunks, while readers read it. Every read and the final
// content must be exactly one writer's data (requests are atomic with
// respect to each other), and the bytes around the range must survive
// the read-modify-writes.
func TestConcurrentSameRange(t *testing.T) {
	for _, c := range []int{envelope.MinChunkSize, envelope.DefaultChunkSize} {
		t.Run(fmt.Sprint(c), func(t *testing.T) {
			kms := newKMS(t, 1)
			f, err := envelope.Create(bg, &memfile.File{}, kms, c)
			if err != nil {
				t.Fatal(err)
			}
			base := pattern(5*c, "base")
			if _, err := f.WriteAt(base, 0); err != nil {
				t.Fatal(err)
			}
			off, n := int64(c/2), 3*c
			if _, err := f.WriteAt(bytes.Repeat([]byte{0xee}, n), off); err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			for g := range 4 {
				wg.Go(func() {
					p := bytes.Repeat([]byte{byte(g + 1)}, n)
					for range 30 {
						if _, err := f.WriteAt(p, off); err != nil {
							t.Error(err)
							return
						}
					}
				})
				wg.Go(func() {
					p := make([]byte, n)
					for range 30 {
						if _, err := f.ReadAt(p, off); err != nil {
							t.Error(err)
							return
						}
						if !uniform(p) {
							t.Error("a read saw a mix of two writes")
							return
						}
					}
				})
			}
			wg.Wait()
			got := readAll(t, f)
			if !uniform(got[off:off+int64(n)]) || got[off] == 0 {
				t.Error("final range is not one writer's data")
			}
			mustEqual(t, "prefix", got[:off], base[:off])
			mustEqual(t, "suffix", got[off+int64(n):], base[off+int64(n):])
		})
	}
}

func uniform(p []byte) bool { return len(p) == 0 || bytes.Count(p, p[:1]) == len(p) }

// TestConcurrentDisjoint has goroutines write interleaved small pieces of
// the same chunks and extend the file past each other, with readers and
// syncs running; no write may be lost.
func TestConcurrentDisjoint(t *testing.T) {
	const c, writers, rounds, piece = envelope.MinChunkSize, 6, 40, 700
	kms := newKMS(t, 1)
	b := &memfile.Prealloc{File: &memfile.File{}}
	f, err := envelope.Create(bg, b, kms, c)
	if err != nil {
		t.Fatal(err)
	}
	// Writer g owns bytes [k*writers*piece + g*piece, +piece) for every
	// round k: pieces of different writers share chunks, and the file
	// grows as the rounds go on.
	var wg sync.WaitGroup
	for g := range writers {
		wg.Go(func() {
			for k := range rounds {
				p := bytes.Repeat([]byte{byte(g*rounds + k + 1)}, piece)
				if _, err := f.WriteAt(p, int64((k*writers+g)*piece)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Go(func() {
		for range 20 {
			if err := f.Sync(); err != nil {
				t.Error(err)
			}
			p := make([]byte, 3*c)
			if _, err := f.ReadAt(p, 0); err != nil && !errors.Is(err, io.EOF) {
				t.Error(err)
			}
		}
	})
	wg.Wait()
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	g2, err := envelope.Open(bg, b, kms, c)
	if err != nil {
		t.Fatal(err)
	}
	got := readAll(t, g2)
	if len(got) != rounds*writers*piece {
		t.Fatalf("size %d, want %d", len(got), rounds*writers*piece)
	}
	for k := range rounds {
		for g := range writers {
			o := (k*writers + g) * piece
			if want := byte(g*rounds + k + 1); !bytes.Equal(got[o:o+piece], bytes.Repeat([]byte{want}, piece)) {
				t.Fatalf("writer %d round %d: write lost", g, k)
			}
		}
	}
}

// TestConcurrentModel runs independent random models on separate regions
// of one file: each goroutine owns a range of chunks and checks its reads.
func TestConcurrentModel(t *testing.T) {
	const c, goroutines, region, ops = envelope.MinChunkSize, 4, 8 * envelope.MinChunkSize, 400
	kms := newKMS(t, 1)
	f, err := envelope.Create(bg, &memfile.File{}, kms, c)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(goroutines * region); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 7))
			want := make([]byte, region)
			base := int64(g * region)
			for range ops {
				off, n := rng.IntN(region), rng.IntN(2*c)
				n = min(n, region-off)
				if rng.IntN(2) == 0 {
					p := pattern(n, fmt.Sprint(rng.Int()))
					if _, err := f.WriteAt(p, base+int64(off)); err != nil {
						t.Error(err)
						return
					}
					copy(want[off:], p)
					continue
				}
				p := make([]byte, n)
				if _, err := f.ReadAt(p, base+int64(off)); err != nil {
					t.Error(err)
					return
				}
				if !bytes.Equal(p, want[off:off+n]) {
					t.Errorf("goroutine %d: wrong data at %d", g, off)
					return
				}
			}
		})
	}
	wg.Wait()
}
