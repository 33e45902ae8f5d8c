package names_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/kmsfs/kmsfs/internal/names"
)

func TestNewCodecKeySize(t *testing.T) {
	for _, n := range []int{0, 16, 31, 33, 64} {
		if _, err := names.NewCodec(make([]byte, n)); !errors.Is(err, names.ErrKeySize) {
			t.Errorf("NewCodec(len=%d) = %v, want ErrKeySize", n, err)
		}
	}
}

func TestNameRoundTripLengths(t *testing.T) {
	c := newCodec(t, 1)
	r := newRand(1)
	for _, n := range []int{1, 15, 16, 17, 100, 175, 176, 200, 255} {
		t.Run(fmt.Sprintf("len=%d", n), func(t *testing.T) {
			name := randomName(r, n)
			disk, side := roundTrip(t, c, testIV(1), name)
			wantLong := n > names.MaxShortNameLen
			if names.IsLong(disk) != wantLong || (side != "") != wantLong {
				t.Fatalf("len=%d: IsLong=%v side=%d bytes, want long=%v", n, names.IsLong(disk), len(side), wantLong)
			}
			if len(disk) > names.MaxNameLen || strings.ContainsAny(disk, "/\x00") {
				t.Fatalf("on-disk name %q is not a legal name", disk)
			}
		})
	}
}

func TestNameRoundTripSpecial(t *testing.T) {
	all := make([]byte, 0, 254)
	for b := 1; b < 256; b++ {
		if b != '/' {
			all = append(all, byte(b))
		}
	}
	tests := []struct{ desc, name string }{
		{"every legal byte", string(all)},
		{"unicode", "Grüße, 日本語 🙂 ñ"},
		{"emoji 255 bytes", strings.Repeat("🙂", 63) + "abc"},
		{"three dots", "..."},
		{"leading dot", ".bashrc"},
		{"space", " "},
		{"newline", "a\nb"},
		{"invalid utf-8", "\xff\xfe"},
		{"looks encrypted", "kmsfs.diriv"},
		{"marker lookalike", "kmsfs-undecryptable"},
		{"padding bytes", "\x10\x10\x10\x10\x10\x10\x10\x10\x10\x10\x10\x10\x10\x10\x10\x10"},
	}
	c := newCodec(t, 1)
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			roundTrip(t, c, testIV(7), tc.name)
		})
	}
}

// TestNameLengthTable asserts the table in NAMES.md §6.
func TestNameLengthTable(t *testing.T) {
	tests := []struct {
		minLen, maxLen int // plaintext bytes
		encoded        int // base64url characters
		long           bool
	}{
		{1, 15, 22, false},
		{16, 31, 43, false},
		{32, 47, 64, false},
		{48, 63, 86, false},
		{64, 79, 107, false},
		{80, 95, 128, false},
		{96, 111, 150, false},
		{112, 127, 171, false},
		{128, 143, 192, false},
		{144, 159, 214, false},
		{160, 175, 235, false},
		{176, 191, 256, true},
		{192, 207, 278, true},
		{208, 223, 299, true},
		{224, 239, 320, true},
		{240, 255, 342, true},
	}
	c := newCodec(t, 2)
	r := newRand(2)
	for _, tc := range tests {
		for n := tc.minLen; n <= tc.maxLen; n++ {
			disk, side, err := c.EncryptName(testIV(2), randomName(r, n))
			if err != nil {
				t.Fatalf("len=%d: %v", n, err)
			}
			encoded, diskLen := len(disk), len(disk)
			if tc.long {
				encoded, diskLen = len(side), 54
			}
			if encoded != tc.encoded || len(disk) != diskLen || names.IsLong(disk) != tc.long {
				t.Errorf("len=%d: encoded %d, disk %d, long %v; want %d, %d, %v",
					n, encoded, len(disk), names.IsLong(disk), tc.encoded, diskLen, tc.long)
			}
			if tc.long && len(names.LongSideFile(disk)) != 59 {
				t.Errorf("len=%d: side file name is %d bytes, want 59", n, len(names.LongSideFile(disk)))
			}
		}
	}
}

func TestNameDependsOnIV(t *testing.T) {
	c := newCodec(t, 3)
	r := newRand(3)
	for _, n := range []int{1, 16, 100, 255} {
		name := randomName(r, n)
		a1, _, _ := c.EncryptName(testIV(1), name)
		a2, _, _ := c.EncryptName(testIV(1), name)
		b, _, _ := c.EncryptName(testIV(2), name)
		if a1 != a2 {
			t.Errorf("len=%d: same IV gave %q and %q, want deterministic", n, a1, a2)
		}
		if a1 == b {
			t.Errorf("len=%d: two IVs gave the same on-disk name %q", n, a1)
		}
	}
	other := newCodec(t, 4)
	x, _, _ := c.EncryptName(testIV(1), "same")
	y, _, _ := other.EncryptName(testIV(1), "same")
	if x == y {
		t.Errorf("two keys gave the same on-disk name %q", x)
	}
}

// TestNameWrongIV moves names to another directory. EME with another tweak
// gives random bytes, so about 1 in 256 pass the padding check as a garbage
// name (NAMES.md §13); none may ever be the original name.
func TestNameWrongIV(t *testing.T) {
	const trials = 20000
	c := newCodec(t, 5)
	r := newRand(5)
	accepted := 0
	for i := range trials {
		name := randomName(r, 1+r.IntN(names.MaxShortNameLen))
		var from, to [names.DirIVSize]byte
		for j := range from {
			from[j], to[j] = byte(r.UintN(256)), byte(r.UintN(256))
		}
		disk, _, err := c.EncryptName(from, name)
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.DecryptName(to, disk)
		switch {
		case err == nil && got == name:
			t.Fatalf("trial %d: wrong IV decrypted to the original name", i)
		case err == nil:
			accepted++
		case !errors.Is(err, names.ErrBadName):
			t.Fatalf("trial %d: err = %v, want ErrBadName", i, err)
		}
	}
	t.Logf("wrong IV: %d of %d decrypted to a garbage name (%.3f%%)", accepted, trials, 100*float64(accepted)/trials)
	if accepted > trials/100 {
		t.Errorf("%d of %d wrong-IV names accepted, want < 1%% (about 0.4%% expected)", accepted, trials)
	}
}

// TestNameTamper changes every character of encoded names to every other
// base64url character. Like a wrong IV, a change must never yield the
// original name and rarely passes the padding check.
func TestNameTamper(t *testing.T) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	c := newCodec(t, 6)
	tries, accepted := 0, 0
	for _, name := range []string{"a", "exactly-16-bytes", strings.Repeat("z", 175)} {
		disk, _, _ := c.EncryptName(testIV(6), name)
		for i := range disk {
			for _, ch := range alphabet {
				if byte(ch) == disk[i] {
					continue
				}
				got, err := c.DecryptName(testIV(6), disk[:i]+string(ch)+disk[i+1:])
				tries++
				if err == nil && got == name {
					t.Fatalf("name %q: changing byte %d kept the name", name, i)
				}
				if err == nil {
					accepted++
				}
			}
		}
	}
	t.Logf("tamper: %d of %d modified names decrypted to garbage", accepted, tries)
	if accepted > tries/100 {
		t.Errorf("%d of %d tampered names accepted, want < 1%%", accepted, tries)
	}
}

func TestDecryptNameMalformed(t *testing.T) {
	c := newCodec(t, 7)
	good, _, _ := c.EncryptName(testIV(7), "hello")           // 22 chars, one block
	two, _, _ := c.EncryptName(testIV(7), "0123456789abcdef") // 43 chars, two blocks
	tests := []struct{ desc, encoded string }{
		{"empty", ""},
		{"one char short", good[:len(good)-1]},
		{"one char long", good + "A"},
		{"half a block", good[:11]},
		{"block and a bit", two[:30]},
		{"non-zero trailing bits", good[:21] + nextChar(good[21])},
		{"padded base64", good + "=="},
		{"std alphabet plus", strings.Replace(good, good[:1], "+", 1)},
		{"std alphabet slash", "/" + good[1:]},
		{"dot", good[:5] + "." + good[6:]},
		{"newline inside", good[:10] + "\n" + good[10:]},
		{"carriage return", good + "\r"},
		{"space", good[:10] + " " + good[11:]},
		{"long name not decoded here", names.LongName(strings.Repeat("A", 300))},
		{"longer than 16 blocks", strings.Repeat("A", 363)},
		{"conflict copy", good + " (conflicted copy 2024-01-01)"},
		{"google drive copy", good + " (1)"},
		{"marked", names.Mark(good)},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			if got, err := c.DecryptName(testIV(7), tc.encoded); !errors.Is(err, names.ErrBadName) {
				t.Fatalf("DecryptName(%q) = %q, %v; want ErrBadName", tc.encoded, got, err)
			}
		})
	}
}

// nextChar returns a base64url character that differs from ch only in its
// low (padding) bits, for a 22-character (16-byte) encoding.
func nextChar(ch byte) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	i := strings.IndexByte(alphabet, ch)
	return string(alphabet[i^1])
}

func TestEncryptNameRejects(t *testing.T) {
	tests := []struct {
		desc, name string
		want       error
	}{
		{"empty", "", names.ErrBadName},
		{"dot", ".", names.ErrBadName},
		{"dotdot", "..", names.ErrBadName},
		{"slash", "a/b", names.ErrBadName},
		{"only slash", "/", names.ErrBadName},
		{"nul", "a\x00b", names.ErrBadName},
		{"256 bytes", strings.Repeat("x", 256), names.ErrTooLong},
		{"4096 bytes", strings.Repeat("x", 4096), names.ErrTooLong},
		{"marked", names.MarkPrefix + "abc", names.ErrReservedName},
		{"marked bare prefix", names.MarkPrefix, names.ErrReservedName},
		{"hash-marked", names.MarkHashPrefix + "abc", names.ErrReservedName},
	}
	c := newCodec(t, 8)
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			disk, side, err := c.EncryptName(testIV(8), tc.name)
			if !errors.Is(err, tc.want) || disk != "" || side != "" {
				t.Fatalf("EncryptName = %q, %q, %v; want %v", disk, side, err, tc.want)
			}
		})
	}
}

func TestClosedCodec(t *testing.T) {
	c, err := names.NewCodec(testKey(9))
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	c.Close() // idempotent
	checks := map[string]error{}
	_, _, checks["EncryptName"] = c.EncryptName(testIV(1), "a")
	_, checks["DecryptName"] = c.DecryptName(testIV(1), "AAAAAAAAAAAAAAAAAAAAAA")
	_, checks["EncryptTarget"] = c.EncryptTarget("a")
	_, checks["DecryptTarget"] = c.DecryptTarget("a")
	_, checks["EncryptXattrName"] = c.EncryptXattrName("user.a")
	_, checks["DecryptXattrName"] = c.DecryptXattrName(names.XattrPrefix + "AAAAAAAAAAAAAAAAAAAAAA")
	_, checks["SealXattrValue"] = c.SealXattrValue([]byte{1}, "user.a", nil)
	_, checks["OpenXattrValue"] = c.OpenXattrValue([]byte{1}, "user.a", nil)
	for fn, err := range checks {
		if !errors.Is(err, names.ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", fn, err)
		}
	}
}

func TestCodecConcurrent(t *testing.T) {
	c := newCodec(t, 10)
	done := make(chan error, 8)
	for g := range 8 {
		go func() {
			r := newRand(uint64(100 + g))
			for range 200 {
				name := randomName(r, 1+r.IntN(names.MaxNameLen))
				disk, side, err := c.EncryptName(testIV(byte(g)), name)
				if err == nil && side != "" {
					disk, err = names.ParseLongSide(disk, []byte(side))
				}
				var got string
				if err == nil {
					got, err = c.DecryptName(testIV(byte(g)), disk)
				}
				if err == nil && got != name {
					err = fmt.Errorf("got %q, want %q", got, name)
				}
				if err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}

func benchName(b *testing.B, n int, decrypt bool) {
	c := newCodec(b, 11)
	name := randomName(newRand(11), n)
	disk, side, err := c.EncryptName(testIV(11), name)
	if err != nil {
		b.Fatal(err)
	}
	encoded := disk
	if side != "" {
		encoded = side
	}
	b.SetBytes(int64(n))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if decrypt {
			_, err = c.DecryptName(testIV(11), encoded)
		} else {
			_, _, err = c.EncryptName(testIV(11), name)
		}
		if err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncryptName(b *testing.B) {
	for _, n := range []int{16, 255} {
		b.Run(fmt.Sprintf("len=%d", n), func(b *testing.B) { benchName(b, n, false) })
	}
}

func BenchmarkDecryptName(b *testing.B) {
	for _, n := range []int{16, 255} {
		b.Run(fmt.Sprintf("len=%d", n), func(b *testing.B) { benchName(b, n, true) })
	}
}
