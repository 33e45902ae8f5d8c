package local_test

import (
	"fmt"
	"testing"

	"github.com/kmsfs/kmsfs/internal/testkeys"
	"github.com/kmsfs/kmsfs/keyring"
	"github.com/kmsfs/kmsfs/keyring/local"
)

func benchKeyring(b *testing.B) (*local.Keyring, string) {
	b.Helper()
	kr, err := local.Open(b.TempDir(), testPass, local.Options{Create: true, KDF: testkeys.KDF})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { kr.Close() })
	out, err := kr.CreateKey(ctxb(), &keyring.CreateKeyInput{})
	if err != nil {
		b.Fatal(err)
	}
	return kr, out.KeyMetadata.KeyId
}

// BenchmarkWrapDEK measures wrapping a 32-byte file key (file creation).
func BenchmarkWrapDEK(b *testing.B) {
	kr, id := benchKeyring(b)
	in := &keyring.WrapDEKInput{KeyId: id, Plaintext: make([]byte, 32), AAD: make([]byte, 32)}
	b.SetBytes(32)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := kr.WrapDEK(ctxb(), in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUnwrapDEK measures unwrapping a 32-byte file key (file open).
func BenchmarkUnwrapDEK(b *testing.B) {
	kr, id := benchKeyring(b)
	w, err := kr.WrapDEK(ctxb(), &keyring.WrapDEKInput{KeyId: id, Plaintext: make([]byte, 32), AAD: make([]byte, 32)})
	if err != nil {
		b.Fatal(err)
	}
	in := &keyring.UnwrapDEKInput{KeyId: w.KeyId, KeyVersion: w.KeyVersion, WrappedKey: w.WrappedKey, AAD: make([]byte, 32)}
	b.SetBytes(32)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := kr.UnwrapDEK(ctxb(), in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUnwrapDEKParallel measures file opens from many goroutines.
func BenchmarkUnwrapDEKParallel(b *testing.B) {
	kr, id := benchKeyring(b)
	w, err := kr.WrapDEK(ctxb(), &keyring.WrapDEKInput{KeyId: id, Plaintext: make([]byte, 32)})
	if err != nil {
		b.Fatal(err)
	}
	in := &keyring.UnwrapDEKInput{KeyId: w.KeyId, KeyVersion: w.KeyVersion, WrappedKey: w.WrappedKey}
	b.SetBytes(32)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := kr.UnwrapDEK(ctxb(), in); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkEncrypt(b *testing.B) {
	for _, size := range []int{32, 4096} {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			kr, id := benchKeyring(b)
			in := &keyring.EncryptInput{KeyId: id, Plaintext: make([]byte, size), EncryptionContext: map[string]string{"a": "b"}}
			b.SetBytes(int64(size))
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := kr.Encrypt(ctxb(), in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
