package maintain_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kmsfs/kmsfs/envelope"
)

func TestReadSlotRefs(t *testing.T) {
	k := newKMS(t)
	dir := t.TempDir()
	v1 := k.ref(1)
	fresh := writeFile(t, k.keys(), dir, "fresh", content(1, 5000))
	rewrapped := writeFile(t, k.keys(), dir, "rewrapped", content(2, 100))
	empty := writeFile(t, k.keys(), dir, "empty", nil)
	v2 := k.rotate(t)
	f, err := os.OpenFile(rewrapped, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := envelope.RewrapFile(context.Background(), f, k.keys(), k.keys(), false); err != nil {
		t.Fatal(err)
	}
	f.Close()
	short := filepath.Join(dir, "short")
	if err := os.WriteFile(short, bytes.Repeat([]byte{1}, 100), 0o600); err != nil {
		t.Fatal(err)
	}
	foreign := filepath.Join(dir, "foreign")
	if err := os.WriteFile(foreign, bytes.Repeat([]byte("not kmsfs "), 100), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		path string
		want envelope.SlotRefs
		err  error
	}{
		{"fresh", fresh, envelope.SlotRefs{Newest: v1, All: []envelope.KeyRef{v1, v1}}, nil},         // Close committed the size floor to slot B
		{"rewrapped", rewrapped, envelope.SlotRefs{Newest: v2, All: []envelope.KeyRef{v2, v2}}, nil}, // mirrored into both slots
		{"empty", empty, envelope.SlotRefs{}, envelope.ErrNoHeader},
		{"short", short, envelope.SlotRefs{}, envelope.ErrTruncated},
		{"foreign", foreign, envelope.SlotRefs{}, envelope.ErrBadMagic},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := os.Open(tc.path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			got, err := envelope.ReadSlotRefs(f)
			if !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
				t.Fatalf("err %v, want %v", err, tc.err)
			}
			if got.Newest != tc.want.Newest || len(got.All) != len(tc.want.All) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
			for i := range got.All {
				if got.All[i] != tc.want.All[i] {
					t.Errorf("All[%d] = %v, want %v", i, got.All[i], tc.want.All[i])
				}
			}
			if tc.err == nil && (!got.Names(v1.KeyID) || got.Names([16]byte{})) {
				t.Error("Names is wrong")
			}
		})
	}
}

// FuzzReadSlotRefs: no input panics, and an accepted header names the
// key reference of one of its slots.
func FuzzReadSlotRefs(f *testing.F) {
	seeds, err := filepath.Glob("../../testdata/vectors/*.vec")
	if err != nil || len(seeds) == 0 {
		f.Fatalf("no seed vectors: %v", err)
	}
	for _, p := range seeds {
		b, err := vectorCiphertext(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b[:min(len(b), 2*envelope.HeaderSize)]) // only the header is read
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		refs, err := envelope.ReadSlotRefs(bytes.NewReader(b))
		if err != nil {
			return
		}
		if len(b) < envelope.HeaderSize || len(refs.All) == 0 || len(refs.All) > 2 || refs.All[0] != refs.Newest {
			t.Fatalf("accepted %d bytes with refs %+v", len(b), refs)
		}
	})
}

// vectorCiphertext returns the hex body of a test vector (FORMAT.md,
// "Test vectors"): everything after the first blank line.
func vectorCiphertext(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	_, body, _ := strings.Cut(string(b), "\n\n")
	var hexText strings.Builder
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		hexText.WriteString(strings.TrimSpace(sc.Text()))
	}
	return hex.DecodeString(hexText.String())
}
