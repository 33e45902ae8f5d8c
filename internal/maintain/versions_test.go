package maintain_test

import (
	"context"
	"errors"
	"path/filepath"
	"sort"
	"testing"

	"github.com/google/uuid"

	"github.com/kmsfs/kmsfs/envelope"
	"github.com/kmsfs/kmsfs/internal/maintain"
	"github.com/kmsfs/kmsfs/keyring"
)

// TestVersionScan lists exactly the files whose current slot is under a
// version below the minimum: not rewrapped files' old slots, not empty
// files, not files of other keys; and damaged files as unknown.
func TestVersionScan(t *testing.T) {
	k := newKMS(t)
	dir := t.TempDir()
	ks := k.keys()
	writeFile(t, ks, dir, "v1/a", content(1, 10))
	writeFile(t, ks, dir, "v1/b", content(2, 5000))
	writeFile(t, ks, dir, "empty", nil)
	k.rotate(t)
	writeFile(t, ks, dir, "v2/new", content(3, 10))
	rewrapped := writeFile(t, ks, dir, "v2/rewrapped-later", content(4, 10))
	damaged := writeFile(t, ks, dir, "damaged", content(5, 10))
	other, err := k.kr.CreateKey(context.Background(), &keyring.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, keyring.NewKeyService(k.kr, other.KeyMetadata.KeyId), dir, "other-key", content(6, 10))
	v3 := k.rotate(t)
	l := newLocal(t, dir, k, maintain.LocalOptions{})
	if _, err := l.RewrapFile(context.Background(), filepath.Base(filepath.Dir(rewrapped))+"/"+filepath.Base(rewrapped), v3); err != nil {
		t.Fatal(err)
	}
	// Inside the wrapped DEK of both slots: they parse, but cannot unwrap.
	flipBytes(t, damaged, envelope.PreambleSize+60, envelope.PreambleSize+envelope.SlotSize+60)

	id := uuid.MustParse(k.keyID)
	for _, tc := range []struct {
		min  uint32
		want []string // files behind, sorted
	}{
		{1, nil},
		{2, []string{"v1/a", "v1/b"}},
		{3, []string{"v1/a", "v1/b", "v2/new"}},
	} {
		scan, err := maintain.NewVersionScan(dir, ks, id, tc.min)
		if err != nil {
			t.Fatal(err)
		}
		s, err := maintain.Run(context.Background(), dir, scan.Task(), maintain.Options{Jobs: 3})
		scan.Close()
		if err != nil {
			t.Fatal(err)
		}
		var behind []string
		unknown := 0
		for _, f := range s.Failures {
			switch {
			case errors.Is(f.Err, maintain.ErrBehind):
				behind = append(behind, f.Path)
			case f.Path == "damaged" && errors.Is(f.Err, envelope.ErrUnauthenticated):
				unknown++
			default:
				t.Errorf("min %d: unexpected failure %s: %v", tc.min, f.Path, f.Err)
			}
		}
		sort.Strings(behind)
		wantUnknown := 0
		if tc.min > 2 { // both its slots name v2: only then must its header unwrap
			wantUnknown = 1
		}
		if len(behind) != len(tc.want) || unknown != wantUnknown {
			t.Errorf("min %d: behind %v (unknown %d), want %v (unknown %d)", tc.min, behind, unknown, tc.want, wantUnknown)
			continue
		}
		for i := range behind {
			if behind[i] != tc.want[i] {
				t.Errorf("min %d: behind %v, want %v", tc.min, behind, tc.want)
			}
		}
	}
}

// TestVersionScanRetired counts a file whose version is already retired
// (min-version --force) as behind.
func TestVersionScanRetired(t *testing.T) {
	k := newKMS(t)
	dir := t.TempDir()
	writeFile(t, k.keys(), dir, "old", content(1, 10))
	k.rotate(t)
	if err := k.kr.SetMinDecryptionVersion(context.Background(), k.keyID, 2); err != nil {
		t.Fatal(err)
	}
	scan, err := maintain.NewVersionScan(dir, k.keys(), uuid.MustParse(k.keyID), 2)
	if err != nil {
		t.Fatal(err)
	}
	defer scan.Close()
	s, err := maintain.Run(context.Background(), dir, scan.Task(), maintain.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if s.Failed != 1 || !errors.Is(s.Failures[0].Err, maintain.ErrBehind) {
		t.Errorf("summary %+v; want the retired file behind", *s)
	}
}
