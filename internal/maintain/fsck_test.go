package maintain_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/kmsfs/kmsfs/envelope"
	"github.com/kmsfs/kmsfs/internal/maintain"
)

// damagedTree makes a tree of healthy files plus one file per kind of
// damage and returns the damaged paths with the error each must report.
func damagedTree(t *testing.T, k *kms) (dir string, damage map[string]error, quickMisses map[string]bool) {
	t.Helper()
	tr := newTestTree(t, k, 24)
	dir = tr.dir
	ks := k.keys()
	stored := int64(testChunk + envelope.ChunkOverhead)
	mk := func(rel string, n int) string { return writeFile(t, ks, dir, rel, content(len(rel), n)) }

	flipped := mk("bad/flipped", 3*testChunk)
	flipBytes(t, flipped, envelope.HeaderSize+stored+77) // inside chunk 1
	torn := mk("bad/torn-tail", 3*testChunk)
	truncate(t, torn, envelope.HeaderSize+2*stored+10) // a 10-byte fragment of chunk 2
	cut := mk("bad/cut-chunk", 3*testChunk)
	truncate(t, cut, envelope.HeaderSize+stored) // whole chunks, below the committed size
	noHeader := mk("bad/no-header", 3*testChunk)
	truncate(t, noHeader, 100)
	slots := mk("bad/slots", 10)
	flipBytes(t, slots, envelope.PreambleSize+50, envelope.PreambleSize+envelope.SlotSize+50)
	if err := os.WriteFile(filepath.Join(dir, "bad/foreign"), []byte("#!/bin/sh\necho this is not a kmsfs file, but long enough to have a header ................................................................................................................................................................................................................................................................................................................................................................................................................................................................................................................................\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	other, err := os.Create(filepath.Join(dir, "bad/chunk-size"))
	if err != nil {
		t.Fatal(err)
	}
	ef, err := envelope.Create(context.Background(), other, ks, 2*testChunk)
	if err == nil {
		_, err = ef.WriteAt([]byte("other chunk size"), 0)
	}
	if err != nil {
		t.Fatal(err)
	}
	ef.Close()
	other.Close()
	stray := filepath.Join(dir, "d1", maintain.RekeyTempPrefix+"0011223344556677.tmp")
	if err := os.WriteFile(stray, []byte("half written"), 0o600); err != nil {
		t.Fatal(err)
	}
	damage = map[string]error{
		"bad/flipped":                envelope.ErrUnauthenticated,
		"bad/torn-tail":              envelope.ErrTruncated,
		"bad/cut-chunk":              envelope.ErrTruncated,
		"bad/no-header":              envelope.ErrTruncated,
		"bad/slots":                  envelope.ErrUnauthenticated,
		"bad/foreign":                envelope.ErrBadMagic,
		"bad/chunk-size":             maintain.ErrChunkSizeMismatch,
		"d1/" + filepath.Base(stray): maintain.ErrStray,
		"kmsfs.conf.tmp":             maintain.ErrStray,
	}
	return dir, damage, map[string]bool{"bad/flipped": true}
}

func truncate(t testing.TB, p string, size int64) {
	t.Helper()
	if err := os.Truncate(p, size); err != nil {
		t.Fatal(err)
	}
}

// TestChecker finds every kind of damage and names the right file, in
// full and quick mode; a quick check misses only damage inside chunks.
func TestChecker(t *testing.T) {
	k := newKMS(t)
	dir, damage, quickMisses := damagedTree(t, k)
	for _, quick := range []bool{false, true} {
		t.Run(map[bool]string{false: "full", true: "quick"}[quick], func(t *testing.T) {
			c, err := maintain.NewChecker(dir, k.keys(), testChunk, quick)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			s, err := maintain.Run(context.Background(), dir, c.Task(), maintain.Options{Jobs: 4})
			if err != nil {
				t.Fatal(err)
			}
			found := map[string]error{}
			for _, f := range s.Failures {
				found[f.Path] = f.Err
			}
			for rel, want := range damage {
				if quick && quickMisses[rel] {
					if found[rel] != nil {
						t.Errorf("%s: quick check reported %v", rel, found[rel])
					}
					continue
				}
				if !errors.Is(found[rel], want) {
					t.Errorf("%s: reported %v, want %v", rel, found[rel], want)
				}
				delete(found, rel)
			}
			for rel, err := range found {
				if damage[rel] == nil {
					t.Errorf("healthy %s reported: %v", rel, err)
				}
			}
			if s.Bytes == 0 || s.Current == 0 {
				t.Errorf("summary %+v: nothing read or nothing clean", *s)
			}
		})
	}
}

// TestCheckerClean: a healthy tree has no failures, and the bytes read are
// the whole ciphertext.
func TestCheckerClean(t *testing.T) {
	k := newKMS(t)
	tr := newTestTree(t, k, 30)
	os.Remove(filepath.Join(tr.dir, "kmsfs.conf.tmp"))
	c, err := maintain.NewChecker(tr.dir, k.keys(), testChunk, false)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := maintain.Run(context.Background(), tr.dir, c.Task(), maintain.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for rel := range tr.files {
		fi, _ := os.Stat(filepath.Join(tr.dir, rel))
		total += fi.Size()
	}
	if s.Failed != 0 || s.Current != int64(len(tr.files)) || s.Bytes != total {
		t.Errorf("summary %+v; want %d clean files and %d bytes", *s, len(tr.files), total)
	}
}
