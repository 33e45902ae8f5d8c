package local

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dgraph-io/badger/v4"
	"github.com/google/uuid"
	"github.com/kmsfs/kmsfs/internal/testkeys"
	"github.com/kmsfs/kmsfs/keyring"
)

// recordsFixture is a keyring (left open) with a key that has a policy,
// a tag and a grant, an access key and a stored account.
func recordsFixture(t *testing.T, dir string) (k *Keyring, keyID, akID string) {
	t.Helper()
	k, err := Open(dir, intPass, Options{Create: true, KDF: testkeys.KDF, Account: "111122223333"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	out, err := k.CreateKey(ctx, &keyring.CreateKeyInput{Tags: []keyring.Tag{{TagKey: "team", TagValue: "a"}}})
	if err != nil {
		t.Fatal(err)
	}
	keyID = out.KeyMetadata.KeyId
	_, err = k.CreateGrant(ctx, &keyring.CreateGrantInput{KeyId: keyID, GranteePrincipal: "arn:aws:iam::111122223333:user/bob",
		Operations: []string{"Decrypt"}})
	if err != nil {
		t.Fatal(err)
	}
	ak, err := k.CreateAccessKey(ctx, &keyring.CreateAccessKeyInput{Name: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	return k, keyID, ak.AccessKey.AccessKeyId
}

// TestNewRecordTamperRefused edits the records this change added and
// checks that Open refuses each edit with ErrKeyringCorrupt.
func TestNewRecordTamperRefused(t *testing.T) {
	tests := []struct {
		name   string
		tamper func(txn *badger.Txn, key, ak string) error
		opens  bool
	}{
		{"control: re-encoded, unchanged", func(txn *badger.Txn, key, ak string) error {
			noop := func(map[string]any) {}
			return errors.Join(editJSON(txn, keyPrefix+key, noop), editJSON(txn, accessKeyPrefix+ak, noop), editJSON(txn, accountKey, noop))
		}, true},
		{"replace the policy", func(txn *badger.Txn, key, _ string) error {
			return editJSON(txn, keyPrefix+key, func(m map[string]any) { m["Policy"] = `{"Statement":[]}` })
		}, false},
		{"drop the grants", func(txn *badger.Txn, key, _ string) error {
			return editJSON(txn, keyPrefix+key, func(m map[string]any) { delete(m, "Grants") })
		}, false},
		{"widen a grant", func(txn *badger.Txn, key, _ string) error {
			return editJSON(txn, keyPrefix+key, func(m map[string]any) {
				m["Grants"].([]any)[0].(map[string]any)["Operations"] = []string{"Decrypt", "Encrypt"}
			})
		}, false},
		{"edit a tag", func(txn *badger.Txn, key, _ string) error {
			return editJSON(txn, keyPrefix+key, func(m map[string]any) { m["Tags"].([]any)[0].(map[string]any)["TagValue"] = "b" })
		}, false},
		{"re-activate an access key as a role", func(txn *badger.Txn, _, ak string) error {
			return editJSON(txn, accessKeyPrefix+ak, func(m map[string]any) { m["RoleName"] = "admin" })
		}, false},
		{"strip an access key's MAC", func(txn *badger.Txn, _, ak string) error {
			return editJSON(txn, accessKeyPrefix+ak, func(m map[string]any) { delete(m, "MAC") })
		}, false},
		{"access key under another ID", func(txn *badger.Txn, _, ak string) error {
			return copyRecord(txn, accessKeyPrefix+ak, accessKeyPrefix+"AKIAAAAAAAAAAAAAAAAA")
		}, false},
		{"change the account", func(txn *badger.Txn, _, _ string) error {
			return editJSON(txn, accountKey, func(m map[string]any) { m["Account"] = "999999999999" })
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			k, key, ak := recordsFixture(t, dir)
			if err := k.db.Update(func(txn *badger.Txn) error { return tt.tamper(txn, key, ak) }); err != nil {
				t.Fatal(err)
			}
			if err := k.Close(); err != nil {
				t.Fatal(err)
			}
			k, err := Open(dir, intPass, Options{KDF: testkeys.KDF})
			if err == nil {
				k.Close()
			}
			if tt.opens && err != nil || !tt.opens && !errors.Is(err, keyring.ErrKeyringCorrupt) {
				t.Fatalf("Open after the edit: %v, want it to open: %v", err, tt.opens)
			}
		})
	}
}

// TestAccessKeySecretNotOnDisk greps every file of the keyring directory
// for an access key's secret, before and after Passwd, and checks that
// the secret still looks up after both.
func TestAccessKeySecretNotOnDisk(t *testing.T) {
	dir := t.TempDir()
	k, _, akID := recordsFixture(t, dir)
	ctx := context.Background()
	ak2, err := k.CreateAccessKey(ctx, &keyring.CreateAccessKeyInput{Role: "reader"})
	if err != nil {
		t.Fatal(err)
	}
	secret, _, _, err := k.LookupAccessKey(ctx, akID)
	if err != nil {
		t.Fatal(err)
	}
	secrets := [][]byte{secret, []byte(ak2.AccessKey.SecretAccessKey), []byte(base64.StdEncoding.EncodeToString(secret))}
	if err := k.Passwd([]byte("new pass"), testkeys.KDF); err != nil {
		t.Fatal(err)
	}
	if err := k.Close(); err != nil {
		t.Fatal(err)
	}
	files := 0
	err = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		for _, s := range secrets {
			if bytes.Contains(b, s) {
				t.Errorf("%s contains an access key secret", filepath.Base(path))
			}
		}
		return nil
	})
	if err != nil || files < 3 {
		t.Fatalf("walked %d files: %v", files, err)
	}
	k, err = Open(dir, []byte("new pass"), Options{KDF: testkeys.KDF})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	got, p, active, err := k.LookupAccessKey(ctx, akID)
	if err != nil || !bytes.Equal(got, secret) || !active || p.ARN != "arn:aws:iam::111122223333:user/bob" {
		t.Fatalf("after Passwd and reopen: %q %+v %v %v", got, p, active, err)
	}
}

// TestBundlePayloadFormats decodes the frozen payload seeds: format 1 (no
// policies, tags or grants) and format 2, and refuses format-2 members in
// a format-1 payload.
func TestBundlePayloadFormats(t *testing.T) {
	for _, tt := range []struct {
		file   string
		grants int
	}{{"payload.json.hex", 0}, {"payload-v2.json.hex", 1}} {
		b := readHexSeed(t, tt.file)
		p, err := decodePayload(b)
		if err != nil {
			t.Fatalf("%s: %v", tt.file, err)
		}
		if got := len(p.Keys[0].Grants); got != tt.grants {
			t.Fatalf("%s: %d grants", tt.file, got)
		}
		p.zero()
	}
	b := bytes.Replace(readHexSeed(t, "payload-v2.json.hex"), []byte(`"Format":2`), []byte(`"Format":1`), 1)
	if _, err := decodePayload(b); !errors.Is(err, keyring.ErrBundleCorrupt) {
		t.Fatalf("format 1 with grants: %v", err)
	}
}

// TestFormat1BundleImports imports the frozen bundle made before payload
// format 2: its key gets the default policy and no tags or grants.
func TestFormat1BundleImports(t *testing.T) {
	k := openInt(t, t.TempDir())
	defer k.Close()
	ctx := context.Background()
	out, err := k.ImportKeyring(ctx, &keyring.ImportKeyringInput{KeyringPassphrase: intPass, Bundle: readHexSeed(t, "valid.hex"),
		Passphrase: []byte("fuzz passphrase")})
	if err != nil || len(out.KeysAdded) != 1 {
		t.Fatalf("import: %+v %v", out, err)
	}
	pol, err := k.GetKeyPolicy(ctx, &keyring.GetKeyPolicyInput{KeyId: out.KeysAdded[0]})
	if err != nil || pol.Policy != defaultPolicy(DefaultAccount) {
		t.Fatalf("policy %+v %v", pol, err)
	}
}

func readHexSeed(t *testing.T, name string) []byte {
	t.Helper()
	text, err := os.ReadFile(filepath.Join("testdata", "bundles", name))
	if err != nil {
		t.Fatal(err)
	}
	b, err := hex.DecodeString(strings.TrimSpace(string(text)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// FuzzGrantToken checks that parseGrantToken never panics, fails only with
// ErrInvalidGrantToken, and that what it accepts encodes back to the same
// token.
func FuzzGrantToken(f *testing.F) {
	f.Add(grantToken(uuid.New(), strings.Repeat("ab", 32)))
	f.Add("")
	f.Add("AQ")
	f.Fuzz(func(t *testing.T, s string) {
		key, id, err := parseGrantToken(s)
		if err != nil {
			if !errors.Is(err, keyring.ErrInvalidGrantToken) {
				t.Fatalf("error %v", err)
			}
			return
		}
		if got := grantToken(key, id); got != s {
			t.Fatalf("token %q parses to one that encodes as %q", s, got)
		}
	})
}
