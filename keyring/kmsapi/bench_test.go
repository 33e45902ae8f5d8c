package kmsapi_test

import (
	"bytes"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/kmsfs/kmsfs/keyring"
	"github.com/kmsfs/kmsfs/keyring/kmsapi"
)

// BenchmarkUnixRoundTrip measures one request over the unix socket against
// the fake, i.e. the protocol's own cost: UnwrapDEK is what a file open
// costs when the keys live in another process, Encrypt 4096 is the largest
// AWS plaintext.
func BenchmarkUnixRoundTrip(b *testing.B) {
	f := newFake()
	path := kmsapi.SocketPath(filepath.Join(b.TempDir(), "keyring"))
	s, err := kmsapi.ListenUnix(path, kmsapi.NewHandler(f, kmsapi.HandlerOptions{}))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	c, err := kmsapi.Dial(path)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	dek := bytes.Repeat([]byte{1}, 32)
	f.setOutput("UnwrapDEK", &keyring.UnwrapDEKOutput{Plaintext: dek})
	b.Run("UnwrapDEK", func(b *testing.B) {
		in := &keyring.UnwrapDEKInput{KeyId: sampleKeyID, KeyVersion: 1, WrappedKey: make([]byte, 60), AAD: make([]byte, 64)}
		b.SetBytes(int64(len(dek)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.UnwrapDEK(b.Context(), in); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, n := range []int{64, 4096} {
		b.Run(fmt.Sprintf("Encrypt/%d", n), func(b *testing.B) {
			f.setOutput("Encrypt", &keyring.EncryptOutput{CiphertextBlob: make([]byte, n+64), KeyId: sampleKeyARN})
			in := &keyring.EncryptInput{KeyId: "alias/fs", Plaintext: make([]byte, n)}
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Encrypt(b.Context(), in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
