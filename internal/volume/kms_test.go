package volume_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/kmsfs/kmsfs/envelope"
	"github.com/kmsfs/kmsfs/internal/testkms"
	"github.com/kmsfs/kmsfs/internal/volume"
)

const testArn = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"

// kmsKind stands in for a remote KMS: testkms's wrap, with references
// without a version, as a KMS's (FORMAT.md §4.6).
type kmsKind struct{ *testkms.Service }

func (k kmsKind) SlotKind() envelope.SlotKind { return envelope.KindKMS }

func (k kmsKind) WrapKey(ctx context.Context, dek, aad []byte) (envelope.KeyRef, []byte, error) {
	ref, w, err := k.Service.WrapKey(ctx, dek, aad)
	ref.Version = 0
	return ref, w, err
}

func (k kmsKind) UnwrapKey(ctx context.Context, ref envelope.KeyRef, w, aad []byte) ([]byte, error) {
	ref.Version = 1
	return k.Service.UnwrapKey(ctx, ref, w, aad)
}

func TestKMSConfigRoundTrip(t *testing.T) {
	for _, k := range []volume.KMS{
		{Endpoint: "https://kms.example:8400", KeyArn: testArn, Region: "eu-west-1"},
		{KeyArn: testArn},
	} {
		for _, plain := range []bool{false, true} {
			dir := t.TempDir()
			ks := kmsKind{testkms.NewFixed()}
			c, err := volume.New("1234abcd-12ab-34cd-56ef-1234567890ab", "", envelope.DefaultChunkSize)
			if err != nil {
				t.Fatal(err)
			}
			if err := c.SetKMS(k); err != nil {
				t.Fatal(err)
			}
			if plain {
				c.SetPlaintextNames()
			} else if err := c.GenerateNameKey(context.Background(), ks); err != nil {
				t.Fatal(err)
			}
			if err := c.Create(dir); err != nil {
				t.Fatal(err)
			}
			got, err := volume.Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			if got.Version != volume.ConfigVersionKMS || !got.IsKMS() || *got.KMS != k || got.PlaintextNames != plain {
				t.Fatalf("loaded %+v", got)
			}
			if !plain {
				key, err := got.NameKey(context.Background(), ks)
				if err != nil || len(key) != volume.NameKeySize || got.WrappedNameKey.Version != 0 {
					t.Fatalf("name key: %v (version %d)", err, got.WrappedNameKey.Version)
				}
			}
		}
	}
}

func TestKMSConfigInvalid(t *testing.T) {
	ks := kmsKind{testkms.NewFixed()}
	base := func(t *testing.T) map[string]any {
		c, err := volume.New("1234abcd-12ab-34cd-56ef-1234567890ab", "", envelope.DefaultChunkSize)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.SetKMS(volume.KMS{Endpoint: "http://127.0.0.1:8400", KeyArn: testArn}); err != nil {
			t.Fatal(err)
		}
		if err := c.GenerateNameKey(context.Background(), ks); err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(c)
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	for _, tt := range []struct {
		name string
		mod  func(m map[string]any)
	}{
		{"version 2 with KMS", func(m map[string]any) { m["Version"] = 2 }},
		{"version 3 without KMS", func(m map[string]any) { delete(m, "KMS") }},
		{"no key ARN", func(m map[string]any) { m["KMS"].(map[string]any)["KeyArn"] = "" }},
		{"credentials in the endpoint", func(m map[string]any) {
			m["KMS"].(map[string]any)["Endpoint"] = "https://AKID:secret@kms.example"
		}},
		{"not a URL", func(m map[string]any) { m["KMS"].(map[string]any)["Endpoint"] = "kms.example:8400" }},
		{"name key with a version", func(m map[string]any) { m["WrappedNameKey"].(map[string]any)["Version"] = 1 }},
		{"no key ID", func(m map[string]any) { m["KeyId"] = "" }},
		{"chunk size 0", func(m map[string]any) { m["ChunkSize"] = 0 }},
		{"chunk size not a power of two", func(m map[string]any) { m["ChunkSize"] = 65535 }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := base(t)
			tt.mod(m)
			b, _ := json.Marshal(m)
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, volume.ConfigName), b, 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := volume.Load(dir); !errors.Is(err, volume.ErrBadConfig) {
				t.Fatalf("Load = %v, want ErrBadConfig", err)
			}
		})
	}
}

func TestSetKMSAfterNameKey(t *testing.T) {
	c, err := volume.New("1234abcd-12ab-34cd-56ef-1234567890ab", "", envelope.DefaultChunkSize)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.GenerateNameKey(context.Background(), testkms.NewFixed()); err != nil {
		t.Fatal(err)
	}
	if err := c.SetKMS(volume.KMS{KeyArn: testArn}); !errors.Is(err, volume.ErrBadConfig) {
		t.Fatalf("SetKMS after the name key: %v, want ErrBadConfig", err)
	}
}
