package kmsclient_test

import (
	"testing"

	"github.com/kmsfs/kmsfs/envelope"
	"github.com/kmsfs/kmsfs/keyring/kmsclient"
)

// BenchmarkWrapKey is the cost a new file pays: one Encrypt over loopback
// HTTP to a kmsfs keyring, through the AWS SDK.
func BenchmarkWrapKey(b *testing.B) {
	ks := newService(b, newServer(b), noCache)
	dek := make([]byte, envelope.DEKSize)
	b.ReportAllocs()
	b.SetBytes(envelope.DEKSize)
	b.ResetTimer()
	for b.Loop() {
		if _, _, err := ks.WrapKey(bg, dek, []byte("benchmark aad")); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUnwrapKey is the cost of opening a file: a Decrypt round trip
// (uncached) or a cache hit (cached).
func BenchmarkUnwrapKey(b *testing.B) {
	for _, tt := range []struct {
		name string
		mod  func(*kmsclient.Config)
	}{
		{"uncached", noCache},
		{"cached", func(c *kmsclient.Config) { c.Cache.MaxUses = 1 << 30 }},
	} {
		b.Run(tt.name, func(b *testing.B) {
			ks := newService(b, newServer(b), tt.mod)
			dek := make([]byte, envelope.DEKSize)
			aad := []byte("benchmark aad")
			ref, blob, err := ks.WrapKey(bg, dek, aad)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.SetBytes(envelope.DEKSize)
			b.ResetTimer()
			for b.Loop() {
				if _, err := ks.UnwrapKey(bg, ref, blob, aad); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
