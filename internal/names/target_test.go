package names_test

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/kmsfs/kmsfs/internal/names"
)

func TestTargetRoundTrip(t *testing.T) {
	c := newCodec(t, 50)
	for _, target := range []string{
		"", "a", "../x/y", "/abs/path", "Grüße/日本語", "with\x00nul",
		strings.Repeat("p/", 1000), strings.Repeat("t", names.MaxTargetLen),
	} {
		t.Run(fmt.Sprintf("len=%d", len(target)), func(t *testing.T) {
			enc, err := c.EncryptTarget(target)
			if err != nil {
				t.Fatalf("EncryptTarget: %v", err)
			}
			if len(enc) > 4095 || strings.ContainsAny(enc, "/\x00=") {
				t.Fatalf("encoding of %d bytes is %d bytes or has '/', NUL, '='", len(target), len(enc))
			}
			if want := base64.RawURLEncoding.EncodedLen(len(target) + names.SealOverhead); len(enc) != want {
				t.Errorf("encoded length %d, want %d", len(enc), want)
			}
			got, err := c.DecryptTarget(enc)
			if err != nil || got != target {
				t.Fatalf("DecryptTarget = %d bytes, %v; want %d bytes", len(got), err, len(target))
			}
		})
	}
}

func TestTargetRandomized(t *testing.T) {
	c := newCodec(t, 51)
	a, _ := c.EncryptTarget("same")
	b, _ := c.EncryptTarget("same")
	if a == b {
		t.Fatal("two encryptions of one target are equal: nonce not random")
	}
}

func TestTargetTooLong(t *testing.T) {
	c := newCodec(t, 52)
	if names.MaxTargetLen != 3043 {
		t.Fatalf("MaxTargetLen = %d, NAMES.md §10 says 3043", names.MaxTargetLen)
	}
	if _, err := c.EncryptTarget(strings.Repeat("t", names.MaxTargetLen+1)); !errors.Is(err, names.ErrTooLong) {
		t.Fatalf("EncryptTarget(MaxTargetLen+1) = %v, want ErrTooLong", err)
	}
}

func TestTargetTamper(t *testing.T) {
	c := newCodec(t, 53)
	enc, err := c.EncryptTarget("../some/target")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.RawURLEncoding.DecodeString(enc)
	reenc := base64.RawURLEncoding.EncodeToString
	cases := map[string]string{
		"empty":        "",
		"too short":    reenc(raw[:names.SealOverhead-1]),
		"tag only":     reenc(raw[:names.SealOverhead]),
		"truncated":    reenc(raw[:len(raw)-1]),
		"extended":     reenc(append(raw[:len(raw):len(raw)], 0)),
		"padded":       enc + "=",
		"std alphabet": strings.NewReplacer("-", "+", "_", "/").Replace(enc) + "+/",
		"newline":      enc[:5] + "\n" + enc[5:],
		"too long":     strings.Repeat("A", 4096),
	}
	for i := range raw {
		mod := append([]byte(nil), raw...)
		mod[i] ^= 0x01
		cases[fmt.Sprintf("flip byte %d", i)] = reenc(mod)
	}
	other := newCodec(t, 54)
	for desc, bad := range cases {
		if got, err := c.DecryptTarget(bad); !errors.Is(err, names.ErrUnauthenticated) {
			t.Errorf("%s: DecryptTarget = %q, %v; want ErrUnauthenticated", desc, got, err)
		}
	}
	if _, err := other.DecryptTarget(enc); !errors.Is(err, names.ErrUnauthenticated) {
		t.Errorf("another key decrypted the target: %v", err)
	}
}
