package names_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/kmsfs/kmsfs/internal/names"
)

func TestLongNameHelpers(t *testing.T) {
	encoded := strings.Repeat("B", 300)
	disk := names.LongName(encoded)
	if !strings.HasPrefix(disk, names.LongPrefix) || len(disk) != 54 {
		t.Fatalf("LongName = %q (%d bytes), want %q + 43 characters", disk, len(disk), names.LongPrefix)
	}
	if names.LongName(encoded) != disk {
		t.Fatal("LongName is not deterministic")
	}
	if names.LongName(encoded+"C") == disk {
		t.Fatal("LongName ignores the last character")
	}
	if got := names.LongSideFile(disk); got != disk+".name" {
		t.Fatalf("LongSideFile = %q", got)
	}
	if names.IsReserved(disk) || !names.IsReserved(names.LongSideFile(disk)) {
		t.Fatal("a long name must be listed and its side file hidden")
	}
}

func TestIsLong(t *testing.T) {
	disk := names.LongName(strings.Repeat("B", 300))
	tests := []struct {
		desc, name string
		want       bool
	}{
		{"long name", disk, true},
		{"side file", disk + ".name", false},
		{"conflict copy", disk + " (1)", false},
		{"truncated", disk[:len(disk)-1], false},
		{"non-canonical hash", disk[:len(disk)-1] + "B", false}, // 43rd char carries 2 padding bits
		{"short encoded", "AAAAAAAAAAAAAAAAAAAAAA", false},
		{"prefix only", names.LongPrefix, false},
		{"wrong prefix", "kmsfs.lonG." + disk[len(names.LongPrefix):], false},
		{"dot in hash", disk[:20] + "." + disk[21:], false},
	}
	for _, tc := range tests {
		if got := names.IsLong(tc.name); got != tc.want {
			t.Errorf("%s: IsLong(%q) = %v, want %v", tc.desc, tc.name, got, tc.want)
		}
	}
}

func TestParseLongSide(t *testing.T) {
	c := newCodec(t, 20)
	disk, side, err := c.EncryptName(testIV(20), strings.Repeat("L", 200))
	if err != nil || side == "" {
		t.Fatalf("EncryptName: %q, %d-byte side, %v", disk, len(side), err)
	}
	other, otherSide, _ := c.EncryptName(testIV(20), strings.Repeat("M", 200))
	short, _, _ := c.EncryptName(testIV(20), "short")
	tests := []struct {
		desc, disk, content string
	}{
		{"other entry's side file", disk, otherSide},
		{"side file of the other name", other, side},
		{"short content", names.LongName(short), short},
		{"255-byte content", names.LongName(side[:255]), side[:255]},
		{"truncated content", disk, side[:len(side)-1]},
		{"trailing newline", disk, side + "\n"},
		{"empty", disk, ""},
		{"too long", names.LongName(side + strings.Repeat("A", 70)), side + strings.Repeat("A", 70)},
		{"not a long name", short, side},
		{"conflict copy name", disk + " (1)", side},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			if got, err := names.ParseLongSide(tc.disk, []byte(tc.content)); !errors.Is(err, names.ErrBadName) {
				t.Fatalf("ParseLongSide = %q, %v; want ErrBadName", got, err)
			}
		})
	}
	got, err := names.ParseLongSide(disk, []byte(side))
	if err != nil || got != side {
		t.Fatalf("ParseLongSide(valid) = %q, %v", got, err)
	}
}
