package volume_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/kmsfs/kmsfs/envelope"
	"github.com/kmsfs/kmsfs/internal/testkms"
	"github.com/kmsfs/kmsfs/internal/volume"
)

var bg = context.Background()

// newMACVolume writes a fresh volume with a config MAC: encrypted names,
// or plaintext names with a config key; under a KMS if kms.
func newMACVolume(t *testing.T, ks envelope.KeyService, plain, kms bool) string {
	t.Helper()
	dir := t.TempDir()
	c, err := volume.New(testKeyID, "alias/test", envelope.DefaultChunkSize)
	if err != nil {
		t.Fatal(err)
	}
	if kms {
		if err := c.SetKMS(volume.KMS{Endpoint: "https://kms.example:8400", KeyArn: testArn, Region: "eu-west-1"}); err != nil {
			t.Fatal(err)
		}
	}
	if plain {
		c.SetPlaintextNames()
		err = c.GenerateConfigKey(bg, ks)
	} else {
		err = c.GenerateNameKey(bg, ks)
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Create(dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

// editConfig rewrites dir's kmsfs.conf as JSON through edit.
func editConfig(t *testing.T, dir string, edit func(m map[string]any)) {
	t.Helper()
	path := filepath.Join(dir, volume.ConfigName)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]any{}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	if b, err = json.Marshal(m); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// loadAuth loads dir's config and authenticates it, as a mount does
// (upgrading a config without a MAC).
func loadAuth(dir string, ks envelope.KeyService) error {
	c, err := volume.Load(dir)
	if err != nil {
		return err
	}
	err = c.Authenticate(bg, ks)
	if errors.Is(err, volume.ErrNoConfigMAC) {
		return c.Upgrade(bg, ks)
	}
	return err
}

func keyServices() map[string]struct {
	ks  envelope.KeyService
	kms bool
} {
	return map[string]struct {
		ks  envelope.KeyService
		kms bool
	}{
		"local": {testkms.NewFixed(), false},
		"kms":   {kmsKind{testkms.NewFixed()}, true},
	}
}

// TestConfigTamper edits each authenticated field of an authenticated
// config, in both name modes and under a local keyring and a KMS: every
// edit is refused with ErrConfigTampered (or, where the edit makes the
// config invalid, ErrBadConfig); an unedited config authenticates, and
// the alias (for people only) may change.
func TestConfigTamper(t *testing.T) {
	for ksName, k := range keyServices() {
		for _, plain := range []bool{false, true} {
			edits := map[string]func(m map[string]any){
				"VolumeID":  func(m map[string]any) { m["VolumeID"] = "00112233445566778899aabbccddeeff" },
				"KeyId":     func(m map[string]any) { m["KeyId"] = "11111111-2222-3333-4444-555555555555" },
				"ChunkSize": func(m map[string]any) { m["ChunkSize"] = 4096.0 },
				"ConfigMAC": func(m map[string]any) {
					mac := []byte(m["ConfigMAC"].(string))
					mac[0] = "10"[min(int(mac[0]-'0'), 1)] // any other first digit
					m["ConfigMAC"] = string(mac)
				},
				"MAC stripped": func(m map[string]any) { delete(m, "ConfigMAC") },
			}
			if plain {
				edits["config key stripped"] = func(m map[string]any) { delete(m, "WrappedConfigKey") }
				edits["MAC and config key stripped over a root IV"] = func(m map[string]any) {
					delete(m, "ConfigMAC")
					delete(m, "WrappedConfigKey")
				}
			} else {
				edits["flipped to plaintext names"] = func(m map[string]any) {
					m["PlaintextNames"], m["Version"] = true, 1.0
					if k.kms {
						m["Version"] = 3.0
					}
					delete(m, "WrappedNameKey")
				}
				edits["flipped to plaintext names, MAC stripped, over its root IV"] = func(m map[string]any) {
					edits["flipped to plaintext names"](m)
					delete(m, "ConfigMAC")
				}
			}
			if k.kms {
				edits["KMS endpoint"] = func(m map[string]any) { m["KMS"].(map[string]any)["Endpoint"] = "https://evil.example" }
				edits["KMS key ARN"] = func(m map[string]any) {
					m["KMS"].(map[string]any)["KeyArn"] = "arn:aws:kms:eu-west-1:111122223333:key/other"
				}
				edits["KMS region"] = func(m map[string]any) { m["KMS"].(map[string]any)["Region"] = "us-east-1" }
			}
			for name, edit := range edits {
				t.Run(fmt.Sprintf("%s,plain=%v,%s", ksName, plain, name), func(t *testing.T) {
					dir := newMACVolume(t, k.ks, plain, k.kms)
					if err := os.WriteFile(filepath.Join(dir, "kmsfs.diriv"), make([]byte, 16), 0o600); err != nil {
						t.Fatal(err)
					}
					editConfig(t, dir, edit)
					err := loadAuth(dir, k.ks)
					if !errors.Is(err, volume.ErrConfigTampered) && !errors.Is(err, volume.ErrBadConfig) {
						t.Errorf("edited config: %v, want ErrConfigTampered", err)
					}
				})
			}
			t.Run(fmt.Sprintf("%s,plain=%v,unedited", ksName, plain), func(t *testing.T) {
				dir := newMACVolume(t, k.ks, plain, k.kms)
				editConfig(t, dir, func(m map[string]any) { m["KeyAlias"] = "alias/renamed" })
				if err := loadAuth(dir, k.ks); err != nil {
					t.Errorf("unedited config: %v", err)
				}
			})
		}
	}
}

// TestConfigUpgrade: a config written before config MACs upgrades on the
// first Authenticate/Upgrade, then authenticates, and is refused once
// edited.
func TestConfigUpgrade(t *testing.T) {
	for ksName, k := range keyServices() {
		for _, plain := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s,plain=%v", ksName, plain), func(t *testing.T) {
				dir := newMACVolume(t, k.ks, plain, k.kms)
				legacyConfig(t, dir, k.ks, plain)
				c, err := volume.Load(dir)
				if err != nil {
					t.Fatal(err)
				}
				if err := c.Authenticate(bg, k.ks); !errors.Is(err, volume.ErrNoConfigMAC) {
					t.Fatalf("legacy config: %v, want ErrNoConfigMAC", err)
				}
				if err := c.Upgrade(bg, k.ks); err != nil {
					t.Fatal(err)
				}
				again, err := volume.Load(dir)
				if err != nil || again.ConfigMAC == "" {
					t.Fatalf("upgraded config: %v, MAC %q", err, again.ConfigMAC)
				}
				if err := again.Authenticate(bg, k.ks); err != nil {
					t.Fatalf("upgraded config: %v", err)
				}
				editConfig(t, dir, func(m map[string]any) { m["ChunkSize"] = 4096.0 })
				if err := loadAuth(dir, k.ks); !errors.Is(err, volume.ErrConfigTampered) {
					t.Errorf("edited upgraded config: %v", err)
				}
			})
		}
	}
}

// legacyConfig rewrites dir's config as one written before config MACs:
// no MAC, no config key, the name key under the old label.
func legacyConfig(t *testing.T, dir string, ks envelope.KeyService, plain bool) {
	t.Helper()
	c, err := volume.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := volume.StripMACForTest(bg, c, ks); err != nil {
		t.Fatal(err)
	}
}

// TestConfigSaveKeepsMAC: after Authenticate, a field changed on purpose
// (a rewrap to another key) is MACed again by Save; without it, Save
// refuses rather than write a MAC that no longer matches.
func TestConfigSaveKeepsMAC(t *testing.T) {
	ks := testkms.NewFixed()
	for _, plain := range []bool{false, true} {
		dir := newMACVolume(t, ks, plain, false)
		c, err := volume.Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		c.KeyId = "11111111-2222-3333-4444-555555555555"
		if err := c.Save(dir); !errors.Is(err, volume.ErrBadConfig) {
			t.Errorf("plain=%v: Save of a changed, unauthenticated config: %v", plain, err)
		}
		c.KeyId = testKeyID
		if err := c.Authenticate(bg, ks); err != nil {
			t.Fatal(err)
		}
		c.KeyId = "11111111-2222-3333-4444-555555555555"
		if err := c.Save(dir); err != nil {
			t.Fatal(err)
		}
		if err := loadAuth(dir, ks); err != nil {
			t.Errorf("plain=%v: config saved after a key change: %v", plain, err)
		}
	}
}
