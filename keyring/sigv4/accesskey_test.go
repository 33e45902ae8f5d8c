package sigv4_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/kmsfs/kmsfs/keyring/sigv4"
)

func TestNewAccessKey(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		id, secret, err := sigv4.NewAccessKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if len(id) != 20 || !strings.HasPrefix(id, "AKIA") || !sigv4.ValidAccessKeyID(id) {
			t.Fatalf("id %q is not an AWS-shaped access key ID", id)
		}
		if len(secret) != 40 || bytes.ContainsAny(secret, "= \n") {
			t.Fatalf("secret has length %d or padding", len(secret))
		}
		if seen[id] || seen[string(secret)] {
			t.Fatal("NewAccessKey repeated itself")
		}
		seen[id], seen[string(secret)] = true, true
	}
}

func TestNewAccessKeyDeterministic(t *testing.T) {
	r := bytes.NewReader(make([]byte, 40))
	id, secret, err := sigv4.NewAccessKey(r)
	if err != nil {
		t.Fatal(err)
	}
	if id != "AKIAAAAAAAAAAAAAAAAA" || string(secret) != strings.Repeat("A", 40) {
		t.Fatalf("all-zero randomness gave %q %q", id, secret)
	}
}

func TestNewAccessKeyShortRandomness(t *testing.T) {
	boom := errors.New("boom")
	for _, r := range []io.Reader{bytes.NewReader(make([]byte, 39)), iotest.ErrReader(boom)} {
		if _, _, err := sigv4.NewAccessKey(r); err == nil {
			t.Fatal("NewAccessKey succeeded with too little randomness")
		}
	}
}

func TestValidAccessKeyID(t *testing.T) {
	tests := map[string]bool{
		"AKIAIOSFODNN7EXAMPLE":  true,
		"AKIA234567ABCDEFGHIJ":  true,
		"ASIAIOSFODNN7EXAMPLE":  false, // session credentials
		"AKIAIOSFODNN7EXAMPL":   false,
		"AKIAIOSFODNN7EXAMPLEE": false,
		"AKIAiosfodnn7example":  false,
		"AKIA0OSFODNN7EXAMPLE":  false, // 0 and 1 are not base32
		"AKIA1OSFODNN7EXAMPLE":  false,
		"AKIAIOSFODNN7EXAMPL=":  false,
		"":                      false,
	}
	for id, want := range tests {
		if got := sigv4.ValidAccessKeyID(id); got != want {
			t.Errorf("ValidAccessKeyID(%q) = %v, want %v", id, got, want)
		}
	}
}
