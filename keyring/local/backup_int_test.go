package local

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/kmsfs/kmsfs/internal/testkeys"
	"github.com/kmsfs/kmsfs/keyring"
)

var intBundlePass = []byte("int-test bundle passphrase")

func exportInt(t *testing.T, k *Keyring) []byte {
	t.Helper()
	out, err := k.ExportKeyring(context.Background(), &keyring.ExportKeyringInput{KeyringPassphrase: intPass, Passphrase: intBundlePass, KDF: testkeys.KDF})
	if err != nil {
		t.Fatal(err)
	}
	return out.Bundle
}

// resealBundle opens a bundle, lets edit change its payload and seals it
// again under the same passphrase: a bundle written by someone who knows
// the passphrase but holds other keys.
func resealBundle(t *testing.T, b []byte, edit func(p *bundlePayload)) []byte {
	t.Helper()
	p, err := openBundle(b, intBundlePass)
	if err != nil {
		t.Fatal(err)
	}
	edit(p)
	out, err := sealBundle(rand.Reader, intBundlePass, testkeys.KDF, p)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// keyringState lists keys (with versions and material) and aliases.
func keyringState(k *Keyring) string {
	k.mu.RLock()
	defer k.mu.RUnlock()
	var lines []string
	for id, e := range k.keys {
		lines = append(lines, id.ID.String()+" "+e.rec.State)
		for _, v := range e.rec.Versions {
			lines = append(lines, id.ID.String()+" v"+strconv.FormatUint(uint64(v.Version), 10)+" "+hex.EncodeToString(e.material[v.Version]))
		}
	}
	for name, a := range k.aliases {
		lines = append(lines, name+" -> "+a.Target.String())
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// TestImportConflictRefused imports bundles that hold a different key
// under an ID that exists here, next to a new key and alias: the import
// fails with ErrAlreadyExists naming the key, and writes nothing at all.
func TestImportConflictRefused(t *testing.T) {
	tests := []struct {
		name  string
		local func(t *testing.T, k *Keyring, id string)
		edit  func(bk *bundleKey)
	}{
		{"material differs", nil, func(bk *bundleKey) { bk.Versions[0].Material[0] ^= 1 }},
		{"newer versions, material differs", nil, func(bk *bundleKey) {
			bk.Versions[0].Material[0] ^= 1
			bk.Versions = append(bk.Versions, bundleVersion{Version: 2, Material: bytes.Repeat([]byte{7}, materialSize)})
		}},
		{"nothing to compare", func(t *testing.T, k *Keyring, id string) {
			ctx := context.Background()
			if _, err := k.RotateKeyOnDemand(ctx, &keyring.KeyIDInput{KeyId: id}); err != nil {
				t.Fatal(err)
			}
			if err := k.SetMinDecryptionVersion(ctx, id, 2); err != nil {
				t.Fatal(err)
			}
			if err := k.DestroyVersionsBelow(ctx, id, 2); err != nil {
				t.Fatal(err)
			}
		}, func(bk *bundleKey) {
			// Here: v1 destroyed, v2. Bundle: v1, v2 destroyed, v3.
			bk.MinDecrypt = 3
			bk.Versions = []bundleVersion{{Version: 1, Material: bytes.Repeat([]byte{1}, materialSize)},
				{Version: 2}, {Version: 3, Material: bytes.Repeat([]byte{3}, materialSize)}}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			k := openInt(t, dir)
			defer func() { k.Close() }()
			ctx := context.Background()
			out, err := k.CreateKey(ctx, &keyring.CreateKeyInput{})
			if err != nil {
				t.Fatal(err)
			}
			id := out.KeyMetadata.KeyId
			bundle := exportInt(t, k)
			if tc.local != nil {
				tc.local(t, k, id)
			}
			newID := uuid.New()
			bundle = resealBundle(t, bundle, func(p *bundlePayload) {
				tc.edit(&p.Keys[0])
				extra := bundleKeyOf(&keyEntry{rec: &keyRecord{ID: newID, State: keyring.StateEnabled, MinDecrypt: 1,
					Versions: []versionRecord{{Version: 1, Sealed: []byte("not destroyed")}}}, material: map[uint32][]byte{1: bytes.Repeat([]byte{9}, materialSize)}})
				p.Keys = append(p.Keys, extra)
				p.Aliases = append(p.Aliases, bundleAlias{Name: "alias/new", Target: newID})
			})
			before := keyringState(k)
			_, err = k.ImportKeyring(ctx, &keyring.ImportKeyringInput{KeyringPassphrase: intPass, Bundle: bundle, Passphrase: intBundlePass})
			if !errors.Is(err, keyring.ErrAlreadyExists) || !strings.Contains(err.Error(), id) {
				t.Fatalf("ImportKeyring: %v, want ErrAlreadyExists naming %s", err, id)
			}
			if after := keyringState(k); after != before {
				t.Fatalf("a refused import changed the keyring:\n%s\nwas\n%s", after, before)
			}
			if err := k.Close(); err != nil {
				t.Fatal(err)
			}
			k = openInt(t, dir)
			if after := keyringState(k); after != before {
				t.Fatalf("a refused import reached the disk:\n%s\nwas\n%s", after, before)
			}
		})
	}
}

// TestBundlePayloadValidation seals payloads that break the keyring's
// invariants under the right passphrase: each fails as ErrBundleCorrupt.
func TestBundlePayloadValidation(t *testing.T) {
	k := openInt(t, t.TempDir())
	defer k.Close()
	ctx := context.Background()
	out, err := k.CreateKey(ctx, &keyring.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	if err := k.CreateAlias(ctx, &keyring.AliasInput{AliasName: "alias/a", TargetKeyId: out.KeyMetadata.KeyId}); err != nil {
		t.Fatal(err)
	}
	good := exportInt(t, k)
	tests := []struct {
		name string
		edit func(p *bundlePayload)
	}{
		{"format", func(p *bundlePayload) { p.Format = bundlePayloadFormat + 1 }},
		{"format 3 with a region", func(p *bundlePayload) { p.Format, p.Keys[0].Region = 3, "eu-west-1" }},
		{"bad region", func(p *bundlePayload) { p.Format, p.Keys[0].Region = 4, "EU" }},
		{"bad multi-Region type", func(p *bundlePayload) { p.Format, p.Keys[0].MultiRegion = 4, "BOTH" }},
		{"format 1 with a policy", func(p *bundlePayload) { p.Format, p.Keys[0].Policy = 1, "{}" }},
		{"policy not an object", func(p *bundlePayload) { p.Keys[0].Policy = "[]" }},
		{"reserved tag", func(p *bundlePayload) { p.Keys[0].Tags = []keyring.Tag{{TagKey: "aws:x"}} }},
		{"tags out of order", func(p *bundlePayload) { p.Keys[0].Tags = []keyring.Tag{{TagKey: "b"}, {TagKey: "a"}} }},
		{"grant ID", func(p *bundlePayload) {
			p.Keys[0].Grants = []grantRecord{{ID: "x", Grantee: "arn:aws:iam::1:user/a", Operations: []string{"Decrypt"}}}
		}},
		{"grant operation", func(p *bundlePayload) {
			p.Keys[0].Grants = []grantRecord{{ID: strings.Repeat("a", 64), Grantee: "arn:aws:iam::1:user/a", Operations: []string{"Fly"}}}
		}},
		{"duplicate key", func(p *bundlePayload) { p.Keys = append(p.Keys, p.Keys[0]) }},
		{"nil key ID", func(p *bundlePayload) { p.Keys[0].ID = uuid.Nil }},
		{"state", func(p *bundlePayload) { p.Keys[0].State = "Melted" }},
		{"pending without date", func(p *bundlePayload) { p.Keys[0].State = keyring.StatePendingDeletion }},
		{"rotation period", func(p *bundlePayload) { p.Keys[0].RotationEnabled = true }},
		{"no versions", func(p *bundlePayload) { p.Keys[0].Versions = nil }},
		{"version gap", func(p *bundlePayload) { p.Keys[0].Versions[0].Version = 2 }},
		{"short material", func(p *bundlePayload) { p.Keys[0].Versions[0].Material = make([]byte, 31) }},
		{"current version destroyed", func(p *bundlePayload) { p.Keys[0].Versions[0].Material = nil }},
		{"minimum version", func(p *bundlePayload) { p.Keys[0].MinDecrypt = 2 }},
		{"alias name", func(p *bundlePayload) { p.Aliases[0].Name = "alias/aws/x" }},
		{"alias target", func(p *bundlePayload) { p.Aliases[0].Target = uuid.New() }},
		{"duplicate alias", func(p *bundlePayload) { p.Aliases = append(p.Aliases, p.Aliases[0]) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := resealBundle(t, good, tc.edit)
			if _, err := InspectBundle(b, intBundlePass); !errors.Is(err, keyring.ErrBundleCorrupt) {
				t.Fatalf("InspectBundle: %v, want ErrBundleCorrupt", err)
			}
		})
	}
	if _, err := InspectBundle(resealBundle(t, good, func(*bundlePayload) {}), intBundlePass); err != nil {
		t.Fatalf("resealed unchanged bundle: %v", err)
	}
}

// TestWriteBundleSeeds regenerates the fuzz seeds in testdata/bundles when
// KMSFS_WRITE_SEEDS=1. The seeds use testkeys.KDF and the passphrase
// "fuzz passphrase".
func TestWriteBundleSeeds(t *testing.T) {
	if os.Getenv("KMSFS_WRITE_SEEDS") != "1" {
		t.Skip("set KMSFS_WRITE_SEEDS=1 to regenerate testdata/bundles")
	}
	k := openInt(t, t.TempDir())
	defer k.Close()
	ctx := context.Background()
	out, err := k.CreateKey(ctx, &keyring.CreateKeyInput{Description: "fuzz seed"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.RotateKeyOnDemand(ctx, &keyring.KeyIDInput{KeyId: out.KeyMetadata.KeyId}); err != nil {
		t.Fatal(err)
	}
	if err := k.CreateAlias(ctx, &keyring.AliasInput{AliasName: "alias/seed", TargetKeyId: out.KeyMetadata.KeyId}); err != nil {
		t.Fatal(err)
	}
	exp, err := k.ExportKeyring(ctx, &keyring.ExportKeyringInput{KeyringPassphrase: intPass, Passphrase: []byte("fuzz passphrase"), KDF: testkeys.KDF})
	if err != nil {
		t.Fatal(err)
	}
	b := exp.Bundle
	p, err := k.snapshot()
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join("testdata", "bundles")
	seeds := map[string][]byte{
		"valid.hex":        b,
		"truncated.hex":    b[:len(b)-1],
		"header-only.hex":  b[:BundleHeaderSize],
		"bad-magic.hex":    append([]byte("KMSFSKX1"), b[8:]...),
		"version-2.hex":    append([]byte("KMSFSKR2"), b[8:]...),
		"empty.hex":        nil,
		"payload.json.hex": payload,
	}
	for name, s := range seeds {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(hex.EncodeToString(s)+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// FuzzDecodePayload feeds authenticated-looking payloads to the validator:
// it must never panic, and fail only with ErrBundleCorrupt.
func FuzzDecodePayload(f *testing.F) {
	seeds, err := filepath.Glob(filepath.Join("testdata", "bundles", "payload*.hex"))
	if err != nil || len(seeds) == 0 {
		f.Fatalf("no payload seeds in testdata/bundles: %v", err)
	}
	for _, s := range seeds {
		text, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		b, err := hex.DecodeString(strings.TrimSpace(string(text)))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := decodePayload(b)
		if err != nil {
			if !errors.Is(err, keyring.ErrBundleCorrupt) {
				t.Fatalf("error %v is not ErrBundleCorrupt", err)
			}
			return
		}
		p.info()
		p.zero()
	})
}
