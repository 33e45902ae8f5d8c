package local_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/kmsfs/kmsfs/internal/testkeys"
	"github.com/kmsfs/kmsfs/keyring"
	"github.com/kmsfs/kmsfs/keyring/local"
)

// damageFixture makes a keyring with a few keys and returns its directory
// (closed) and its key IDs.
func damageFixture(t *testing.T) (dir string, ids []string) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "keyring")
	kr, err := local.Open(dir, []byte("pw"), local.Options{Create: true, KDF: testkeys.KDF})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		out, err := kr.CreateKey(context.Background(), &keyring.CreateKeyInput{})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, out.KeyMetadata.KeyId)
	}
	if err := kr.Close(); err != nil {
		t.Fatal(err)
	}
	return dir, ids
}

// copyDir copies the flat directory src to a new directory.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "copy")
	if err := os.Mkdir(dst, 0o700); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

func tableFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*.sst"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range m {
		m[i] = filepath.Base(m[i])
	}
	return m
}

// openDamaged opens dir and checks the one acceptable outcome pair: it
// opens with every key intact, or it fails with ErrKeyringCorrupt having
// deleted no table file. It never panics and never loses a key.
func openDamaged(t *testing.T, dir string, ids []string, what string) (refused bool) {
	t.Helper()
	before := tableFiles(t, dir)
	kr, err := local.Open(dir, []byte("pw"), local.Options{KDF: testkeys.KDF})
	if err != nil {
		if !errors.Is(err, keyring.ErrKeyringCorrupt) {
			t.Fatalf("%s: Open: %v, want ErrKeyringCorrupt", what, err)
		}
		if after := tableFiles(t, dir); !slices.Equal(before, after) {
			t.Fatalf("%s: refused, but table files went from %v to %v", what, before, after)
		}
		return true
	}
	defer kr.Close()
	for _, id := range ids {
		if _, err := kr.DescribeKey(context.Background(), &keyring.KeyIDInput{KeyId: id}); err != nil {
			t.Fatalf("%s: opened, but key %s: %v", what, id, err)
		}
	}
	return false
}

// TestDamagedManifestLosesNothing cuts the MANIFEST at every length and
// removes it: before the guard, Badger took a cut MANIFEST as empty and
// deleted every table, so the keyring lost every master key.
func TestDamagedManifestLosesNothing(t *testing.T) {
	orig, ids := damageFixture(t)
	mf, err := os.ReadFile(filepath.Join(orig, "MANIFEST"))
	if err != nil {
		t.Fatal(err)
	}
	if len(tableFiles(t, orig)) == 0 {
		t.Fatal("fixture has no table files; the test would prove nothing")
	}
	refused := 0
	for n := 0; n < len(mf); n++ {
		dir := copyDir(t, orig)
		if err := os.WriteFile(filepath.Join(dir, "MANIFEST"), mf[:n], 0o600); err != nil {
			t.Fatal(err)
		}
		if openDamaged(t, dir, ids, "MANIFEST cut to "+strconv.Itoa(n)+" bytes") {
			refused++
		}
	}
	if refused == 0 {
		t.Error("no cut MANIFEST was refused")
	}
	dir := copyDir(t, orig)
	if err := os.Remove(filepath.Join(dir, "MANIFEST")); err != nil {
		t.Fatal(err)
	}
	if !openDamaged(t, dir, ids, "MANIFEST removed") {
		t.Error("a keyring without its MANIFEST opened")
	}
	// Creating a keyring there must not wipe it either.
	_, err = local.Open(dir, []byte("pw"), local.Options{Create: true, KDF: testkeys.KDF})
	if !errors.Is(err, keyring.ErrKeyringCorrupt) {
		t.Errorf("Open with Create over a keyring without MANIFEST: %v, want ErrKeyringCorrupt", err)
	}
}

// TestDamagedTablesRefused flips and truncates table files: the outcome is
// ErrKeyringCorrupt or every key intact, never a panic.
func TestDamagedTablesRefused(t *testing.T) {
	orig, ids := damageFixture(t)
	for _, name := range tableFiles(t, orig) {
		b, err := os.ReadFile(filepath.Join(orig, name))
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			what string
			data []byte
		}{
			{"truncated to half", b[:len(b)/2]},
			{"truncated to 0", nil},
			{"flipped in the middle", flip(b, len(b)/2)},
			{"flipped at the start", flip(b, 10)},
			{"flipped near the end", flip(b, len(b)-10)},
		} {
			dir := copyDir(t, orig)
			if err := os.WriteFile(filepath.Join(dir, name), tc.data, 0o600); err != nil {
				t.Fatal(err)
			}
			openDamaged(t, dir, ids, name+" "+tc.what)
		}
	}
}

func flip(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 0x5a
	return c
}
