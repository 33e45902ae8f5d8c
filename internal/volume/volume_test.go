package volume_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kmsfs/kmsfs/envelope"
	"github.com/kmsfs/kmsfs/internal/testkms"
	"github.com/kmsfs/kmsfs/internal/volume"
)

const testKeyID = "6f1c2a3e-8d4b-4c5a-9e7f-0a1b2c3d4e5f"

// newVolume writes a fresh encrypted-names volume in a temp dir.
func newVolume(t *testing.T, ks *testkms.Service) (*volume.Config, string) {
	t.Helper()
	dir := t.TempDir()
	c, err := volume.New(testKeyID, "alias/test", envelope.DefaultChunkSize)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.GenerateNameKey(context.Background(), ks); err != nil {
		t.Fatal(err)
	}
	if err := c.Create(dir); err != nil {
		t.Fatal(err)
	}
	return c, dir
}

func mustNameKey(t *testing.T, c *volume.Config, ks envelope.KeyService) []byte {
	t.Helper()
	key, err := c.NameKey(context.Background(), ks)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func TestNameKeyRoundTrip(t *testing.T) {
	ks := testkms.NewFixed()
	c, dir := newVolume(t, ks)
	key := mustNameKey(t, c, ks)
	if len(key) != volume.NameKeySize || bytes.Equal(key, make([]byte, volume.NameKeySize)) {
		t.Fatalf("name key %d bytes, all zero: %v", len(key), bytes.Equal(key, make([]byte, volume.NameKeySize)))
	}
	loaded, err := volume.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if loaded.PlaintextNames || loaded.Version != volume.ConfigVersion {
		t.Errorf("loaded PlaintextNames=%v Version=%d, want false, %d", loaded.PlaintextNames, loaded.Version, volume.ConfigVersion)
	}
	if got := mustNameKey(t, loaded, ks); !bytes.Equal(got, key) {
		t.Error("name key differs after Load")
	}
	raw, err := os.ReadFile(filepath.Join(dir, volume.ConfigName))
	if err != nil {
		t.Fatal(err)
	}
	for _, enc := range []string{string(key), base64.StdEncoding.EncodeToString(key), fmt.Sprintf("%x", key)} {
		if bytes.Contains(raw, []byte(enc)) {
			t.Errorf("kmsfs.conf holds the name key in clear:\n%s", raw)
		}
	}
	// A second volume gets another key.
	c2, _ := newVolume(t, ks)
	if bytes.Equal(mustNameKey(t, c2, ks), key) {
		t.Error("two volumes got the same name key")
	}
}

// TestNameKeyTamper changes each field the wrapping binds: every change
// fails to unwrap with envelope.ErrUnauthenticated.
func TestNameKeyTamper(t *testing.T) {
	ks := testkms.NewFixed()
	c, dir := newVolume(t, ks)
	other, _ := newVolume(t, ks)
	cases := []struct {
		name   string
		change func(c *volume.Config)
		want   error // nil: envelope.ErrUnauthenticated
	}{
		{"flip wrapped byte", func(c *volume.Config) {
			b, _ := base64.StdEncoding.DecodeString(c.WrappedNameKey.Wrapped)
			b[len(b)/2] ^= 1
			c.WrappedNameKey.Wrapped = base64.StdEncoding.EncodeToString(b)
		}, nil},
		{"truncate wrapped", func(c *volume.Config) {
			b, _ := base64.StdEncoding.DecodeString(c.WrappedNameKey.Wrapped)
			c.WrappedNameKey.Wrapped = base64.StdEncoding.EncodeToString(b[:len(b)-1])
		}, nil},
		{"other volume ID", func(c *volume.Config) { c.VolumeID = other.VolumeID }, nil},
		{"flip volume ID", func(c *volume.Config) { c.VolumeID = "ff" + c.VolumeID[2:] }, nil},
		{"other key version", func(c *volume.Config) { ks.Rotate(); c.WrappedNameKey.Version = 2 }, nil},
		// A key the service does not have is its refusal, not a forgery.
		{"other key ID", func(c *volume.Config) { c.WrappedNameKey.KeyId = "00000000-0000-4000-8000-000000000000" }, testkms.ErrNotFound},
		{"other volume's key", func(c *volume.Config) { c.WrappedNameKey = other.WrappedNameKey }, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			loaded, err := volume.Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			wk := *loaded.WrappedNameKey
			loaded.WrappedNameKey = &wk
			tc.change(loaded)
			key, err := loaded.NameKey(context.Background(), ks)
			want := tc.want
			if want == nil {
				want = envelope.ErrUnauthenticated
			}
			if !errors.Is(err, want) || key != nil {
				t.Errorf("NameKey = %d bytes, %v; want %v", len(key), err, want)
			}
		})
	}
	if _, err := c.NameKey(context.Background(), ks); err != nil {
		t.Errorf("untouched config: %v", err)
	}
}

// TestNameKeyOnDiskTamper edits kmsfs.conf itself: a wrapped key from
// another volume's file does not unwrap here.
func TestNameKeyOnDiskTamper(t *testing.T) {
	ks := testkms.NewFixed()
	_, dirA := newVolume(t, ks)
	_, dirB := newVolume(t, ks)
	a, err := volume.Load(dirA)
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	b, err := os.ReadFile(filepath.Join(dirB, volume.ConfigName))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	raw["WrappedNameKey"] = a.WrappedNameKey
	b, _ = json.Marshal(raw)
	if err := os.WriteFile(filepath.Join(dirB, volume.ConfigName), b, 0o600); err != nil {
		t.Fatal(err)
	}
	moved, err := volume.Load(dirB)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := moved.NameKey(context.Background(), ks); !errors.Is(err, envelope.ErrUnauthenticated) {
		t.Errorf("name key moved from another volume: %v, want ErrUnauthenticated", err)
	}
}

func TestRewrapNameKey(t *testing.T) {
	ctx := context.Background()
	ks := testkms.NewFixed()
	c, dir := newVolume(t, ks)
	key := mustNameKey(t, c, ks)
	if changed, err := c.RewrapNameKey(ctx, ks, ks); err != nil || changed {
		t.Fatalf("rewrap without rotation: changed=%v, %v", changed, err)
	}
	before, _ := os.ReadFile(filepath.Join(dir, volume.ConfigName))
	ks.Rotate()
	changed, err := c.RewrapNameKey(ctx, ks, ks)
	if err != nil || !changed {
		t.Fatalf("rewrap after rotation: changed=%v, %v", changed, err)
	}
	loaded, err := volume.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if loaded.WrappedNameKey.Version != 2 {
		t.Errorf("saved name key version %d, want 2", loaded.WrappedNameKey.Version)
	}
	if got := mustNameKey(t, loaded, ks); !bytes.Equal(got, key) {
		t.Error("the name key itself changed: every name would be lost")
	}
	after, _ := os.ReadFile(filepath.Join(dir, volume.ConfigName))
	if bytes.Equal(before, after) {
		t.Error("config file unchanged on disk")
	}
	if _, err := os.Stat(filepath.Join(dir, volume.ConfigName+".tmp")); !os.IsNotExist(err) {
		t.Errorf("temporary config left behind: %v", err)
	}
	if changed, err := loaded.RewrapNameKey(ctx, ks, ks); err != nil || changed {
		t.Errorf("second rewrap: changed=%v, %v", changed, err)
	}
}

func TestRewrapNameKeyErrors(t *testing.T) {
	ctx := context.Background()
	ks := testkms.NewFixed()
	c, err := volume.New(testKeyID, "", envelope.DefaultChunkSize)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.GenerateNameKey(ctx, ks); err != nil {
		t.Fatal(err)
	}
	if _, err := c.RewrapNameKey(ctx, ks, ks); !errors.Is(err, volume.ErrNoDir) {
		t.Errorf("rewrap of an unsaved config: %v, want ErrNoDir", err)
	}
	c.SetPlaintextNames()
	if changed, err := c.RewrapNameKey(ctx, ks, ks); err != nil || changed {
		t.Errorf("rewrap with plaintext names: changed=%v, %v", changed, err)
	}
	if _, err := c.NameKey(ctx, ks); !errors.Is(err, volume.ErrPlaintextNames) {
		t.Errorf("NameKey with plaintext names: %v, want ErrPlaintextNames", err)
	}
}

func TestPlaintextNamesConfig(t *testing.T) {
	dir := t.TempDir()
	c, err := volume.New(testKeyID, "", envelope.DefaultChunkSize)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Create(dir); !errors.Is(err, volume.ErrBadConfig) {
		t.Fatalf("Create without a name key: %v, want ErrBadConfig", err)
	}
	c.SetPlaintextNames()
	if err := c.Create(dir); err != nil {
		t.Fatal(err)
	}
	loaded, err := volume.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !loaded.PlaintextNames || loaded.Version != volume.ConfigVersionPlainNames || loaded.WrappedNameKey != nil {
		t.Errorf("loaded %+v", loaded)
	}
}

// TestLoadVersion1 reads a config as the first kmsfs release wrote it.
func TestLoadVersion1(t *testing.T) {
	dir := t.TempDir()
	old := `{
	"Version": 1,
	"VolumeID": "00112233445566778899aabbccddeeff",
	"KeyId": "` + testKeyID + `",
	"KeyAlias": "alias/kmsfs",
	"ChunkSize": 65536,
	"PlaintextNames": true
}
`
	if err := os.WriteFile(filepath.Join(dir, volume.ConfigName), []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := volume.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !c.PlaintextNames || c.ChunkSize != 65536 {
		t.Errorf("loaded %+v", c)
	}
}

func TestLoadInvalid(t *testing.T) {
	ks := testkms.NewFixed()
	_, dir := newVolume(t, ks)
	good, err := os.ReadFile(filepath.Join(dir, volume.ConfigName))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		edit func(m map[string]any)
	}{
		{"version 1 with encrypted names", func(m map[string]any) { m["Version"] = 1 }},
		{"version 3", func(m map[string]any) { m["Version"] = 3 }},
		{"encrypted names without key", func(m map[string]any) { delete(m, "WrappedNameKey") }},
		{"plaintext names with key", func(m map[string]any) { m["PlaintextNames"] = true }},
		{"bad key ID", func(m map[string]any) { m["WrappedNameKey"].(map[string]any)["KeyId"] = "nope" }},
		{"key version 0", func(m map[string]any) { m["WrappedNameKey"].(map[string]any)["Version"] = 0 }},
		{"bad base64", func(m map[string]any) { m["WrappedNameKey"].(map[string]any)["Wrapped"] = "!!" }},
		{"empty wrapped", func(m map[string]any) { m["WrappedNameKey"].(map[string]any)["Wrapped"] = "" }},
		{"short volume ID", func(m map[string]any) { m["VolumeID"] = "0011" }},
		{"non-hex volume ID", func(m map[string]any) { m["VolumeID"] = strings.Repeat("zz", 16) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var m map[string]any
			if err := json.Unmarshal(good, &m); err != nil {
				t.Fatal(err)
			}
			tc.edit(m)
			b, _ := json.Marshal(m)
			d := t.TempDir()
			if err := os.WriteFile(filepath.Join(d, volume.ConfigName), b, 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := volume.Load(d); !errors.Is(err, volume.ErrBadConfig) {
				t.Errorf("Load = %v, want ErrBadConfig", err)
			}
		})
	}
}
