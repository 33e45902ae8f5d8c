package names_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/kmsfs/kmsfs/internal/names"
)

func TestMarkUnmark(t *testing.T) {
	long := names.LongName(strings.Repeat("B", 300))
	tests := []struct {
		desc, disk string
		reversible bool
	}{
		{"short encoded", "AAAAAAAAAAAAAAAAAAAAAA", true},
		{"dropbox copy", "AAAAAAAAAAAAAAAAAAAAAA (Bob's conflicted copy 2024-05-01)", true},
		{"syncthing copy", "AAAAAAAAAAAAAAAAAAAAAA.sync-conflict-20240501-101010-ABCDEFG", true},
		{"long name without side file", long, true},
		{"foreign file", "notes.txt", true},
		{"already marked", names.MarkPrefix + "x", true},
		{"single byte", "x", true},
		{"235 bytes", strings.Repeat("z", 235), true},
		{"236 bytes", strings.Repeat("z", 236), false},
		{"255 bytes", strings.Repeat("z", 255), false},
		{"binary", "\xff\x01~", true},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			m := names.Mark(tc.disk)
			if len(m) > names.MaxNameLen || !names.IsMarked(m) || strings.ContainsAny(m, "/\x00") {
				t.Fatalf("Mark = %q (%d bytes): not a legal marked name", m, len(m))
			}
			got, ok := names.Unmark(m)
			if ok != tc.reversible || (ok && got != tc.disk) {
				t.Fatalf("Unmark(Mark(x)) = %q, %v; want %q, %v", got, ok, tc.disk, tc.reversible)
			}
			if !ok && names.Mark(tc.disk) != m {
				t.Fatal("hashed Mark is not deterministic, so lookups cannot resolve it by listing")
			}
		})
	}
}

func TestUnmarkRejects(t *testing.T) {
	for _, name := range []string{
		"", "plain", names.MarkPrefix, "kmsfs-undecryptable", "Kmsfs-undecryptable~x",
		names.MarkHashPrefix + "abc", names.MarkPrefix + strings.Repeat("z", 236),
	} {
		if got, ok := names.Unmark(name); ok {
			t.Errorf("Unmark(%q) = %q, true; want false", name, got)
		}
	}
}

// TestMarkedNeverCollides checks both directions: a marked name is never an
// encrypted name (it does not decrypt, as a disk name), and never a real
// plaintext name (EncryptName refuses it; DecryptName never returns one,
// see TestDecryptNameRejectsIllegalPlaintext).
func TestMarkedNeverCollides(t *testing.T) {
	c := newCodec(t, 30)
	r := newRand(30)
	for i := range 2000 {
		disk, side, err := c.EncryptName(testIV(30), randomName(r, 1+r.IntN(names.MaxNameLen)))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range []string{names.Mark(disk), names.Mark(side)} {
			if _, err := c.DecryptName(testIV(30), m); !errors.Is(err, names.ErrBadName) {
				t.Fatalf("trial %d: marked name %q decrypted: %v", i, m, err)
			}
			if _, _, err := c.EncryptName(testIV(30), m); !errors.Is(err, names.ErrReservedName) {
				t.Fatalf("trial %d: EncryptName(marked) = %v, want ErrReservedName", i, err)
			}
			if names.IsLong(m) || names.IsReserved(m) {
				t.Fatalf("trial %d: marked name %q looks like a long or reserved name", i, m)
			}
		}
	}
}

func TestIsReserved(t *testing.T) {
	long := names.LongName(strings.Repeat("B", 300))
	tests := []struct {
		name string
		want bool
	}{
		{names.DirIVFile, true},
		{"kmsfs.diriv (conflicted copy 2024-05-01)", true},
		{"kmsfs (Bob's conflicted copy 2024-05-01).diriv", true},
		{"kmsfs (1).diriv", true},
		{"kmsfs.sync-conflict-20240501-101010-ABCDEFG.diriv", true},
		{"kmsfs-DESKTOP1.diriv", true},
		{"kmsfs.diriv.tmp-0011223344556677", true},
		{long + ".name", true},
		{long + " (1).name", true},
		{long + ".name (conflicted copy)", true},
		{long + ".sync-conflict-20240501-101010-ABCDEFG.name", true},
		{long, false},
		{long + " (1)", false},
		{"AAAAAAAAAAAAAAAAAAAAAA", false},
		{"diriv", false},
		{"x.diriv", false},
		{"kmsfs.conf", false},
	}
	for _, tc := range tests {
		if got := names.IsReserved(tc.name); got != tc.want {
			t.Errorf("IsReserved(%q) = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestEncryptedNamesNeverReserved: no name EncryptName produces is hidden.
func TestEncryptedNamesNeverReserved(t *testing.T) {
	c := newCodec(t, 31)
	r := newRand(31)
	for n := 1; n <= names.MaxNameLen; n++ {
		disk, _, err := c.EncryptName(testIV(31), randomName(r, n))
		if err != nil {
			t.Fatal(err)
		}
		if names.IsReserved(disk) || names.IsMarked(disk) {
			t.Fatalf("len=%d: on-disk name %q is reserved or marked", n, disk)
		}
	}
}
