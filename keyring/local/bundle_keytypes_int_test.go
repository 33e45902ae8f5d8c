package local

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/kmsfs/kmsfs/keyring"
	"github.com/kmsfs/kmsfs/keyring/keyspec"
)

// TestBundlePayloadFormat3 checks what payload format 3 adds: a typed key
// decodes, and is refused as corrupt in a format 2 payload, with typed
// material that does not open under its version key, with a spec its
// material is not of, with a usage its spec refuses, and without its
// typed material.
func TestBundlePayloadFormat3(t *testing.T) {
	k := openInt(t, t.TempDir())
	defer k.Close()
	ctx := context.Background()
	if _, err := k.CreateKey(ctx, &keyring.CreateKeyInput{KeySpec: keyspec.ECCNISTP256, KeyUsage: keyspec.UsageSignVerify}); err != nil {
		t.Fatal(err)
	}
	p, err := k.snapshot()
	if err != nil {
		t.Fatal(err)
	}
	good, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	if q, err := decodePayload(good); err != nil || q.Format != 3 || q.Keys[0].KeySpec != keyspec.ECCNISTP256 {
		t.Fatalf("format 3: %v", err)
	}
	for name, change := range map[string]func(p *bundlePayload){
		"format 2":        func(p *bundlePayload) { p.Format = 2 },
		"tampered typed":  func(p *bundlePayload) { p.Keys[0].Versions[0].Typed[20] ^= 1 },
		"other spec":      func(p *bundlePayload) { p.Keys[0].KeySpec = keyspec.ECCNISTP384 },
		"usage":           func(p *bundlePayload) { p.Keys[0].KeyUsage = keyspec.UsageEncryptDecrypt },
		"no typed":        func(p *bundlePayload) { p.Keys[0].Versions[0].Typed = nil },
		"origin":          func(p *bundlePayload) { p.Keys[0].Origin = "AWS_CLOUDHSM" },
		"rotation":        func(p *bundlePayload) { p.Keys[0].RotationEnabled, p.Keys[0].RotationPeriodDays = true, 365 },
		"pending import":  func(p *bundlePayload) { p.Keys[0].State = keyring.StatePendingImport },
		"validTo":         func(p *bundlePayload) { p.Keys[0].ValidTo = &p.Created },
		"expiration":      func(p *bundlePayload) { p.Keys[0].ExpirationModel = keyring.ExpirationNoKeyMaterial },
		"no material":     func(p *bundlePayload) { p.Keys[0].Versions[0].Material = nil },
		"digest, not ext": func(p *bundlePayload) { p.Keys[0].ImportDigest = make([]byte, 32) },
	} {
		var q bundlePayload
		if err := json.Unmarshal(good, &q); err != nil {
			t.Fatal(err)
		}
		change(&q)
		b, _ := json.Marshal(&q)
		if _, err := decodePayload(b); !errors.Is(err, keyring.ErrBundleCorrupt) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
