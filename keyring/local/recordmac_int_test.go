package local

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/dgraph-io/badger/v4"
	"github.com/kmsfs/kmsfs/internal/testkeys"
	"github.com/kmsfs/kmsfs/keyring"
)

// macFixture is a keyring (left open) with a Disabled key, a key rotated
// to version 2 with version 1 retired, and alias/a on the first, alias/b
// on the second.
func macFixture(t *testing.T, dir string) (k *Keyring, disabled, rotated string) {
	t.Helper()
	k = openInt(t, dir)
	ctx := context.Background()
	ids := make([]string, 2)
	for i := range ids {
		out, err := k.CreateKey(ctx, &keyring.CreateKeyInput{})
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = out.KeyMetadata.KeyId
	}
	disabled, rotated = ids[0], ids[1]
	steps := []error{
		k.DisableKey(ctx, &keyring.KeyIDInput{KeyId: disabled}),
		k.CreateAlias(ctx, &keyring.AliasInput{AliasName: "alias/a", TargetKeyId: disabled}),
		k.CreateAlias(ctx, &keyring.AliasInput{AliasName: "alias/b", TargetKeyId: rotated}),
	}
	_, err := k.RotateKeyOnDemand(ctx, &keyring.KeyIDInput{KeyId: rotated})
	steps = append(steps, err, k.SetMinDecryptionVersion(ctx, rotated, 2))
	if err := errors.Join(steps...); err != nil {
		t.Fatal(err)
	}
	return k, disabled, rotated
}

// editJSON rewrites one stored record as someone who can write the
// database but does not know the passphrase: any field but the MAC.
func editJSON(txn *badger.Txn, key string, edit func(m map[string]any)) error {
	item, err := txn.Get([]byte(key))
	if err != nil {
		return err
	}
	var m map[string]any
	if err := item.Value(func(b []byte) error { return json.Unmarshal(b, &m) }); err != nil {
		return err
	}
	edit(m)
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return txn.Set([]byte(key), b)
}

// copyRecord stores the value of record from under record to.
func copyRecord(txn *badger.Txn, from, to string) error {
	item, err := txn.Get([]byte(from))
	if err != nil {
		return err
	}
	v, err := item.ValueCopy(nil)
	if err != nil {
		return err
	}
	return txn.Set([]byte(to), v)
}

// TestRecordTamperRefused edits key and alias records in Badger and checks
// that Open refuses each edit with ErrKeyringCorrupt.
func TestRecordTamperRefused(t *testing.T) {
	tests := []struct {
		name   string
		tamper func(txn *badger.Txn, disabled, rotated string) error
		opens  bool // the control: re-encoding alone is no edit
	}{
		{"control: re-encoded, unchanged", func(txn *badger.Txn, d, r string) error {
			noop := func(map[string]any) {}
			return errors.Join(editJSON(txn, keyPrefix+d, noop), editJSON(txn, keyPrefix+r, noop),
				editJSON(txn, aliasPrefix+"alias/a", noop))
		}, true},
		{"re-enable a disabled key", func(txn *badger.Txn, d, _ string) error {
			return editJSON(txn, keyPrefix+d, func(m map[string]any) { m["State"] = keyring.StateEnabled })
		}, false},
		{"un-retire a version", func(txn *badger.Txn, _, r string) error {
			return editJSON(txn, keyPrefix+r, func(m map[string]any) { m["MinDecrypt"] = 1 })
		}, false},
		{"drop the newest version", func(txn *badger.Txn, _, r string) error {
			return editJSON(txn, keyPrefix+r, func(m map[string]any) {
				m["Versions"] = m["Versions"].([]any)[:1]
				m["MinDecrypt"] = 1
			})
		}, false},
		{"change rotation settings", func(txn *badger.Txn, _, r string) error {
			return editJSON(txn, keyPrefix+r, func(m map[string]any) {
				m["RotationEnabled"], m["RotationPeriodDays"] = true, 90
			})
		}, false},
		{"strip a key's MAC", func(txn *badger.Txn, d, _ string) error {
			return editJSON(txn, keyPrefix+d, func(m map[string]any) { delete(m, "MAC") })
		}, false},
		{"key record under another ID", func(txn *badger.Txn, d, r string) error {
			return copyRecord(txn, keyPrefix+r, keyPrefix+d)
		}, false},
		{"repoint an alias", func(txn *badger.Txn, _, r string) error {
			return editJSON(txn, aliasPrefix+"alias/a", func(m map[string]any) { m["Target"] = r })
		}, false},
		{"alias record under another name", func(txn *badger.Txn, _, _ string) error {
			return copyRecord(txn, aliasPrefix+"alias/b", aliasPrefix+"alias/a")
		}, false},
		{"strip an alias's MAC", func(txn *badger.Txn, _, _ string) error {
			return editJSON(txn, aliasPrefix+"alias/b", func(m map[string]any) { delete(m, "MAC") })
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			k, disabled, rotated := macFixture(t, dir)
			err := k.db.Update(func(txn *badger.Txn) error { return tt.tamper(txn, disabled, rotated) })
			if err != nil {
				t.Fatal(err)
			}
			if err := k.Close(); err != nil {
				t.Fatal(err)
			}
			k, err = Open(dir, intPass, Options{KDF: testkeys.KDF})
			if err == nil {
				k.Close()
			}
			if tt.opens && err != nil || !tt.opens && !errors.Is(err, keyring.ErrKeyringCorrupt) {
				t.Fatalf("Open after the edit: %v, want it to open: %v", err, tt.opens)
			}
		})
	}
}

// TestRecordMACsSurvive reopens a keyring after every kind of write
// (create, rotate, state and rotation changes, aliases, Passwd, import) and
// checks that the MACs verify.
func TestRecordMACsSurvive(t *testing.T) {
	dir := t.TempDir()
	k, disabled, rotated := macFixture(t, dir)
	ctx := context.Background()
	bundle := exportInt(t, k)
	newPass := []byte("another passphrase")
	steps := []error{
		k.EnableKeyRotation(ctx, &keyring.EnableKeyRotationInput{KeyId: rotated}),
		k.UpdateAlias(ctx, &keyring.AliasInput{AliasName: "alias/a", TargetKeyId: rotated}),
		k.DestroyVersionsBelow(ctx, rotated, 2),
		k.Passwd(newPass, testkeys.KDF),
	}
	_, err := k.ScheduleKeyDeletion(ctx, &keyring.ScheduleKeyDeletionInput{KeyId: disabled})
	steps = append(steps, err)
	if err := errors.Join(steps...); err != nil {
		t.Fatal(err)
	}
	if err := k.Close(); err != nil {
		t.Fatal(err)
	}
	k, err = Open(dir, newPass, Options{KDF: testkeys.KDF})
	if err != nil {
		t.Fatalf("reopen after Passwd: %v", err)
	}
	k.Close()
	otherDir := t.TempDir()
	other := openInt(t, otherDir)
	if _, err := other.ImportKeyring(ctx, &keyring.ImportKeyringInput{KeyringPassphrase: intPass, Bundle: bundle, Passphrase: intBundlePass}); err != nil {
		other.Close()
		t.Fatal(err)
	}
	reopenInt(t, other, otherDir).Close() // fails the test if the MACs do not verify
}

// makeFormat2 rewrites k's database as format-2 code wrote it: root format
// 2 with a v2 verifier (same salt, KEK and audit key), records without
// MACs.
func makeFormat2(t *testing.T, k *Keyring) {
	t.Helper()
	// Raw, past the integrity record, which format-2 code never wrote.
	err := k.db.DB.Update(func(txn *badger.Txn) error {
		if err := txn.Delete([]byte(integrityKey)); err != nil {
			return err
		}
		root := *k.root
		root.Format = auditRootFormat
		v, err := sealKEK(k.opts.Rand, k.kek, []byte(labelVerifierText), []byte(labelVerifierAADv2))
		if err != nil {
			return err
		}
		root.Verifier = v
		if err := setJSON(txn, []byte(rootKey), &root); err != nil {
			return err
		}
		for id := range k.keys {
			if err := editJSON(txn, keyPrefix+id.ID.String(), func(m map[string]any) { delete(m, "MAC") }); err != nil {
				return err
			}
		}
		for name := range k.aliases {
			if err := editJSON(txn, aliasPrefix+name, func(m map[string]any) { delete(m, "MAC") }); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestFormat2Upgrade opens a format-2 keyring (no record MACs): it is
// re-keyed under a fresh salt and its audit chain keeps verifying; then its
// records' MACs break under an edit, and its old root put back opens
// nothing.
func TestFormat2Upgrade(t *testing.T) {
	tests := []struct {
		name  string
		after func(k *Keyring, disabled string, oldRoot map[string][]byte) error
	}{
		{"edit after upgrade", func(k *Keyring, disabled string, _ map[string][]byte) error {
			return k.db.Update(func(txn *badger.Txn) error {
				return editJSON(txn, keyPrefix+disabled, func(m map[string]any) { m["State"] = keyring.StateEnabled })
			})
		}},
		{"old root put back", func(k *Keyring, _ string, oldRoot map[string][]byte) error {
			return k.db.Update(func(txn *badger.Txn) error { return txn.Set([]byte(rootKey), oldRoot[rootKey]) })
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			k, disabled, _ := macFixture(t, dir)
			makeFormat2(t, k)
			oldRoot := rawRecords(t, k, []string{rootKey})
			oldSalt := k.root.Salt
			k = reopenInt(t, k, dir)
			if k.root.Format != rootFormat || bytes.Equal(k.root.Salt, oldSalt) {
				t.Fatalf("after upgrade: format %d, salt kept %v", k.root.Format, bytes.Equal(k.root.Salt, oldSalt))
			}
			ctx := context.Background()
			if err := k.VerifyAudit(ctx); err != nil {
				t.Fatalf("VerifyAudit after upgrade: %v", err)
			}
			recs, err := k.Audit(ctx, keyring.AuditFilter{Op: "UpgradeKeyring"})
			if err != nil || len(recs) != 1 {
				t.Fatalf("UpgradeKeyring records: %+v, %v", recs, err)
			}
			k = reopenInt(t, k, dir) // the new MACs verify
			if err := tt.after(k, disabled, oldRoot); err != nil {
				t.Fatal(err)
			}
			if err := k.Close(); err != nil {
				t.Fatal(err)
			}
			if k, err := Open(dir, intPass, Options{KDF: testkeys.KDF}); !errors.Is(err, keyring.ErrKeyringCorrupt) {
				if err == nil {
					k.Close()
				}
				t.Fatalf("Open: %v, want ErrKeyringCorrupt", err)
			}
		})
	}
}

// reopenInt closes k and opens dir again with intPass.
func reopenInt(t *testing.T, k *Keyring, dir string) *Keyring {
	t.Helper()
	if err := k.Close(); err != nil {
		t.Fatal(err)
	}
	k, err := Open(dir, intPass, Options{KDF: testkeys.KDF})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestFormatDowngradeRefused rewrites a current root as format 2, which
// would make Open skip the record MACs: the v3 verifier does not open as a
// v2 one, so Open refuses.
func TestFormatDowngradeRefused(t *testing.T) {
	dir := t.TempDir()
	k := openInt(t, dir)
	err := k.db.Update(func(txn *badger.Txn) error {
		return editJSON(txn, rootKey, func(m map[string]any) { m["Format"] = auditRootFormat })
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := k.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir, intPass, Options{KDF: testkeys.KDF}); !errors.Is(err, keyring.ErrWrongPassphrase) {
		t.Fatalf("Open of a root downgraded to format 2: %v, want ErrWrongPassphrase", err)
	}
}
