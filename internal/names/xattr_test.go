package names_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/kmsfs/kmsfs/internal/names"
)

func TestXattrNameRoundTrip(t *testing.T) {
	c := newCodec(t, 60)
	for _, name := range []string{
		"user.a", "user.comment", "user.Grüße", "trusted.x", "security.selinux",
		"user." + strings.Repeat("x", names.MaxXattrNameLen-5),
	} {
		t.Run(fmt.Sprintf("len=%d", len(name)), func(t *testing.T) {
			enc, err := c.EncryptXattrName(name)
			if err != nil {
				t.Fatalf("EncryptXattrName: %v", err)
			}
			if !strings.HasPrefix(enc, names.XattrPrefix) || len(enc) > 255 {
				t.Fatalf("on-disk xattr name %q (%d bytes)", enc, len(enc))
			}
			again, _ := c.EncryptXattrName(name)
			if again != enc {
				t.Fatalf("not deterministic: %q then %q", enc, again)
			}
			got, err := c.DecryptXattrName(enc)
			if err != nil || got != name {
				t.Fatalf("DecryptXattrName = %q, %v; want %q", got, err, name)
			}
		})
	}
}

func TestXattrNameDistinct(t *testing.T) {
	c := newCodec(t, 61)
	a, _ := c.EncryptXattrName("user.a")
	b, _ := c.EncryptXattrName("user.b")
	fileName, _, _ := c.EncryptName([names.DirIVSize]byte{}, "user.a")
	other, _ := newCodec(t, 62).EncryptXattrName("user.a")
	if a == b || a == other || a == names.XattrPrefix+fileName {
		t.Fatalf("xattr names collide: %q %q %q %q", a, b, other, fileName)
	}
}

func TestXattrNameRejects(t *testing.T) {
	c := newCodec(t, 63)
	for name, want := range map[string]error{
		"":                       names.ErrBadName,
		"user.a\x00b":            names.ErrBadName,
		strings.Repeat("x", 176): names.ErrTooLong,
	} {
		if _, err := c.EncryptXattrName(name); !errors.Is(err, want) {
			t.Errorf("EncryptXattrName(len=%d) = %v, want %v", len(name), err, want)
		}
	}
	good, _ := c.EncryptXattrName("user.a")
	for _, enc := range []string{
		"", "user.a", "user.kmsfs", names.XattrPrefix, "security.selinux",
		strings.TrimPrefix(good, names.XattrPrefix), // prefix missing
		"user.KMSFS." + strings.TrimPrefix(good, names.XattrPrefix),
		good + "A", good[:len(good)-1], good + "\n",
	} {
		if got, err := c.DecryptXattrName(enc); !errors.Is(err, names.ErrBadName) {
			t.Errorf("DecryptXattrName(%q) = %q, %v; want ErrBadName", enc, got, err)
		}
	}
}

func TestXattrValueRoundTrip(t *testing.T) {
	c := newCodec(t, 64)
	fileID := bytes.Repeat([]byte{0xf1}, 16)
	for _, n := range []int{0, 1, 100, 4096, 65536} {
		value := bytes.Repeat([]byte{byte(n)}, n)
		sealed, err := c.SealXattrValue(fileID, "user.v", value)
		if err != nil {
			t.Fatal(err)
		}
		if len(sealed) != n+names.SealOverhead {
			t.Errorf("len=%d: sealed %d bytes, want %d", n, len(sealed), n+names.SealOverhead)
		}
		got, err := c.OpenXattrValue(fileID, "user.v", sealed)
		if err != nil || !bytes.Equal(got, value) {
			t.Fatalf("len=%d: OpenXattrValue = %d bytes, %v", n, len(got), err)
		}
	}
}

// TestXattrValueBinding moves a sealed value to another file, another name,
// or splits the binding differently; every move must fail.
func TestXattrValueBinding(t *testing.T) {
	c := newCodec(t, 65)
	fileA := bytes.Repeat([]byte{0xaa}, 16)
	fileB := bytes.Repeat([]byte{0xbb}, 16)
	sealed, err := c.SealXattrValue(fileA, "user.x", []byte("secret"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		desc   string
		fileID []byte
		name   string
		sealed []byte
	}{
		{"other file", fileB, "user.x", sealed},
		{"other name", fileA, "user.y", sealed},
		{"name prefix", fileA, "user.", sealed},
		{"other key", fileA, "user.x", nil}, // filled below
		{"truncated", fileA, "user.x", sealed[:len(sealed)-1]},
		{"too short", fileA, "user.x", sealed[:names.SealOverhead-1]},
		{"empty", fileA, "user.x", nil},
	}
	otherKey, _ := newCodec(t, 66).SealXattrValue(fileA, "user.x", []byte("secret"))
	tests[3].sealed = otherKey
	for i := range sealed {
		mod := append([]byte(nil), sealed...)
		mod[i] ^= 0x80
		tests = append(tests, struct {
			desc   string
			fileID []byte
			name   string
			sealed []byte
		}{fmt.Sprintf("flip byte %d", i), fileA, "user.x", mod})
	}
	for _, tc := range tests {
		if got, err := c.OpenXattrValue(tc.fileID, tc.name, tc.sealed); !errors.Is(err, names.ErrUnauthenticated) {
			t.Errorf("%s: OpenXattrValue = %q, %v; want ErrUnauthenticated", tc.desc, got, err)
		}
	}
	// The length prefix keeps ("ab", "c...") apart from ("a", "bc...").
	split, _ := c.SealXattrValue([]byte("ab"), "cd", []byte("v"))
	if _, err := c.OpenXattrValue([]byte("a"), "bcd", split); !errors.Is(err, names.ErrUnauthenticated) {
		t.Errorf("binding split differently opened: %v", err)
	}
}

func TestXattrValueBadBinding(t *testing.T) {
	c := newCodec(t, 67)
	for _, id := range [][]byte{nil, {}, make([]byte, names.MaxBindingLen+1)} {
		if _, err := c.SealXattrValue(id, "user.x", nil); !errors.Is(err, names.ErrBadBinding) {
			t.Errorf("SealXattrValue(len(fileID)=%d) = %v, want ErrBadBinding", len(id), err)
		}
		if _, err := c.OpenXattrValue(id, "user.x", make([]byte, 40)); !errors.Is(err, names.ErrBadBinding) {
			t.Errorf("OpenXattrValue(len(fileID)=%d) = %v, want ErrBadBinding", len(id), err)
		}
	}
	if _, err := c.SealXattrValue(make([]byte, names.MaxBindingLen), "user.x", nil); err != nil {
		t.Errorf("SealXattrValue(255-byte binding) = %v", err)
	}
}
