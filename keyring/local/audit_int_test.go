package local

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/kmsfs/kmsfs/internal/testkeys"
	"github.com/kmsfs/kmsfs/keyring"
)

// auditFixture is a keyring with six audit records: CreateKey and five
// Encrypts.
func auditFixture(t *testing.T) *Keyring {
	t.Helper()
	k := openInt(t, t.TempDir())
	t.Cleanup(func() { k.Close() })
	ctx := context.Background()
	out, err := k.CreateKey(ctx, &keyring.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if _, err := k.Encrypt(ctx, &keyring.EncryptInput{KeyId: out.KeyMetadata.KeyId, Plaintext: []byte("x")}); err != nil {
			t.Fatal(err)
		}
	}
	st, err := k.AuditStatus(ctx)
	if err != nil || st.Records != 6 {
		t.Fatalf("before tampering: %+v, %v", st, err)
	}
	return k
}

// TestAuditTamperDetected tampers with audit records in Badger, as someone
// who can write the database but does not know the passphrase, and checks
// that VerifyAudit names the first record not proven genuine.
func TestAuditTamperDetected(t *testing.T) {
	tests := []struct {
		name    string
		tamper  func(k *Keyring, txn *badger.Txn) error
		wantSeq uint64
	}{
		{"edit", func(_ *Keyring, txn *badger.Txn) error {
			return editAudit(txn, 3, func(r *keyring.AuditRecord) { r.Outcome = "DisabledException" })
		}, 3},
		{"edit and re-MAC one record", func(k *Keyring, txn *badger.Txn) error {
			// Even with the audit key, fixing one record breaks the next.
			var first keyring.AuditRecord
			if _, err := getJSON(txn, auditDBKey(1), &first); err != nil {
				return err
			}
			return editAudit(txn, 2, func(r *keyring.AuditRecord) { r.Caller = "mallory"; r.Hash = k.audit.newHasher().hash(first.Hash, r) })
		}, 3},
		{"rebuild the chain with plain SHA-256", func(_ *Keyring, txn *badger.Txn) error {
			return rebuildUnkeyed(txn, 3, func(r *keyring.AuditRecord) { r.Outcome = "Success"; r.Caller = "mallory" })
		}, 3},
		{"rebuild from the first record with plain SHA-256", func(_ *Keyring, txn *badger.Txn) error {
			return rebuildUnkeyed(txn, 1, func(*keyring.AuditRecord) {})
		}, 1},
		{"delete middle", func(_ *Keyring, txn *badger.Txn) error { return txn.Delete(auditDBKey(4)) }, 4},
		{"delete last", func(_ *Keyring, txn *badger.Txn) error { return txn.Delete(auditDBKey(6)) }, 6},
		{"delete last and move the head back", func(_ *Keyring, txn *badger.Txn) error {
			return deleteTailMoveHead(txn, 6)
		}, 6},
		{"delete the last two and move the head back", func(_ *Keyring, txn *badger.Txn) error {
			return deleteTailMoveHead(txn, 5)
		}, 5},
		{"delete the head", func(_ *Keyring, txn *badger.Txn) error { return txn.Delete([]byte(auditHeadKey)) }, 7},
		{"delete everything", func(_ *Keyring, txn *badger.Txn) error {
			for seq := uint64(1); seq <= 6; seq++ {
				if err := txn.Delete(auditDBKey(seq)); err != nil {
					return err
				}
			}
			return txn.Delete([]byte(auditHeadKey))
		}, 1},
		{"renumber", func(_ *Keyring, txn *badger.Txn) error {
			return editAudit(txn, 5, func(r *keyring.AuditRecord) { r.Seq = 4 })
		}, 5},
		{"reorder", func(_ *Keyring, txn *badger.Txn) error {
			var r4, r5 keyring.AuditRecord
			if _, err := getJSON(txn, auditDBKey(4), &r4); err != nil {
				return err
			}
			if _, err := getJSON(txn, auditDBKey(5), &r5); err != nil {
				return err
			}
			r4.Seq, r5.Seq = 5, 4
			if err := setJSON(txn, auditDBKey(4), &r5); err != nil {
				return err
			}
			return setJSON(txn, auditDBKey(5), &r4)
		}, 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k := auditFixture(t)
			if err := k.db.Update(func(txn *badger.Txn) error { return tc.tamper(k, txn) }); err != nil {
				t.Fatal(err)
			}
			err := k.VerifyAudit(context.Background())
			var ae *keyring.AuditError
			if !errors.Is(err, keyring.ErrAuditBroken) || !errors.As(err, &ae) || ae.Seq != tc.wantSeq {
				t.Fatalf("VerifyAudit: %v, want record %d", err, tc.wantSeq)
			}
		})
	}
}

func editAudit(txn *badger.Txn, seq uint64, edit func(r *keyring.AuditRecord)) error {
	var r keyring.AuditRecord
	if _, err := getJSON(txn, auditDBKey(seq), &r); err != nil {
		return err
	}
	edit(&r)
	return setJSON(txn, auditDBKey(seq), &r)
}

// rebuildUnkeyed edits record from and recomputes every later hash and the
// head with unkeyed SHA-256, as an attacker without the audit key would.
func rebuildUnkeyed(txn *badger.Txn, from uint64, edit func(r *keyring.AuditRecord)) error {
	prev := make([]byte, sha256.Size)
	var head auditHead
	if _, err := getJSON(txn, []byte(auditHeadKey), &head); err != nil {
		return err
	}
	if from > 1 {
		var r keyring.AuditRecord
		if _, err := getJSON(txn, auditDBKey(from-1), &r); err != nil {
			return err
		}
		prev = r.Hash
	}
	for seq := from; seq <= head.Seq; seq++ {
		var r keyring.AuditRecord
		if _, err := getJSON(txn, auditDBKey(seq), &r); err != nil {
			return err
		}
		if seq == from {
			edit(&r)
		}
		r.Hash = legacyHash(prev, canonicalRecord(&r))
		prev = r.Hash
		if err := setJSON(txn, auditDBKey(seq), &r); err != nil {
			return err
		}
	}
	head.Hash = prev
	return setJSON(txn, []byte(auditHeadKey), head)
}

// deleteTailMoveHead deletes records from..head and points the head (with
// its old MAC) at the record before them.
func deleteTailMoveHead(txn *badger.Txn, from uint64) error {
	var head auditHead
	if _, err := getJSON(txn, []byte(auditHeadKey), &head); err != nil {
		return err
	}
	var last keyring.AuditRecord
	if _, err := getJSON(txn, auditDBKey(from-1), &last); err != nil {
		return err
	}
	for seq := from; seq <= head.Seq; seq++ {
		if err := txn.Delete(auditDBKey(seq)); err != nil {
			return err
		}
	}
	head.Seq, head.Hash = last.Seq, last.Hash
	return setJSON(txn, []byte(auditHeadKey), head)
}

// TestAuditAfterPasswd checks that the audit key survives a passphrase
// change: the chain verifies across Passwd and a reopen, and keeps growing.
func TestAuditAfterPasswd(t *testing.T) {
	dir := t.TempDir()
	k := openInt(t, dir)
	ctx := context.Background()
	if _, err := k.CreateKey(ctx, &keyring.CreateKeyInput{}); err != nil {
		t.Fatal(err)
	}
	newPass := []byte("a new passphrase")
	if err := k.Passwd(newPass, testkeys.KDF); err != nil {
		t.Fatal(err)
	}
	if err := k.VerifyAudit(ctx); err != nil {
		t.Fatalf("after Passwd: %v", err)
	}
	if err := k.Close(); err != nil {
		t.Fatal(err)
	}
	k, err := Open(dir, newPass, Options{KDF: testkeys.KDF})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	if _, err := k.CreateKey(ctx, &keyring.CreateKeyInput{}); err != nil {
		t.Fatal(err)
	}
	st, err := k.AuditStatus(ctx)
	if err != nil || st.Records != 3 {
		t.Fatalf("after reopen with the new passphrase: %+v, %v", st, err)
	}
}

// TestRootDowngradeRefused rewrites a format-2 root as format 1 without its
// audit key, which would let an attacker drop the keyed chain: the v2
// verifier does not open as a v1 one, so Open refuses.
func TestRootDowngradeRefused(t *testing.T) {
	dir := t.TempDir()
	k := openInt(t, dir)
	err := k.db.Update(func(txn *badger.Txn) error {
		var root rootRecord
		if _, err := getJSON(txn, []byte(rootKey), &root); err != nil {
			return err
		}
		root.Format, root.AuditKey, root.AuditFrom = legacyRootFormat, nil, 0
		return setJSON(txn, []byte(rootKey), &root)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := k.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir, intPass, Options{KDF: testkeys.KDF}); !errors.Is(err, keyring.ErrWrongPassphrase) {
		t.Fatalf("Open of a downgraded root: %v, want ErrWrongPassphrase", err)
	}
}

// TestAuditFromTamperRefused moves AuditFrom (to make the keyed chain start
// later): the audit key's seal binds it, so Open fails.
func TestAuditFromTamperRefused(t *testing.T) {
	dir := t.TempDir()
	k := openInt(t, dir)
	err := k.db.Update(func(txn *badger.Txn) error {
		var root rootRecord
		if _, err := getJSON(txn, []byte(rootKey), &root); err != nil {
			return err
		}
		root.AuditFrom = 1000
		return setJSON(txn, []byte(rootKey), &root)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := k.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir, intPass, Options{KDF: testkeys.KDF}); !errors.Is(err, keyring.ErrInternal) {
		t.Fatalf("Open with a moved AuditFrom: %v, want ErrInternal", err)
	}
}

// TestLegacyRootUpgrade turns a keyring into the legacy format (format-1
// root, no audit key, an unkeyed chain), reopens it and checks that it gets
// an audit key, that the old records still verify, and that they are now
// protected: rewriting one of them breaks the chain at the first keyed
// record.
func TestLegacyRootUpgrade(t *testing.T) {
	dir := t.TempDir()
	k := openInt(t, dir)
	ctx := context.Background()
	for range 3 {
		if _, err := k.CreateKey(ctx, &keyring.CreateKeyInput{}); err != nil {
			t.Fatal(err)
		}
	}
	makeLegacy(t, k)
	if err := k.Close(); err != nil {
		t.Fatal(err)
	}
	k, err := Open(dir, intPass, Options{KDF: testkeys.KDF})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	if k.root.Format != rootFormat || k.audit.from != 4 {
		t.Fatalf("after upgrade: format %d, keyed from %d", k.root.Format, k.audit.from)
	}
	recs, err := k.Audit(ctx, keyring.AuditFilter{})
	if err != nil || len(recs) != 4 || recs[3].Op != "CreateAuditKey" {
		t.Fatalf("records after upgrade: %+v, %v", recs, err)
	}
	if err := k.VerifyAudit(ctx); err != nil {
		t.Fatalf("VerifyAudit after upgrade: %v", err)
	}
	err = k.db.Update(func(txn *badger.Txn) error {
		return rebuildUnkeyed(txn, 2, func(r *keyring.AuditRecord) { r.Caller = "mallory" })
	})
	if err != nil {
		t.Fatal(err)
	}
	var ae *keyring.AuditError
	if err := k.VerifyAudit(ctx); !errors.As(err, &ae) || ae.Seq != 4 {
		t.Fatalf("legacy records rewritten: %v, want a break at record 4", err)
	}
}

// makeLegacy rewrites k's database as the format-1 code wrote it.
func makeLegacy(t *testing.T, k *Keyring) {
	t.Helper()
	if err := k.audit.flush(); err != nil {
		t.Fatal(err)
	}
	// Raw, past the integrity record, which format-1 code never wrote.
	err := k.db.DB.Update(func(txn *badger.Txn) error {
		if err := txn.Delete([]byte(integrityKey)); err != nil {
			return err
		}
		root := &rootRecord{Format: legacyRootFormat, KDF: k.root.KDF, Salt: k.root.Salt}
		v, err := sealKEK(k.opts.Rand, k.kek, []byte(labelVerifierText), []byte(labelVerifierAAD))
		if err != nil {
			return err
		}
		root.Verifier = v
		if err := setJSON(txn, []byte(rootKey), root); err != nil {
			return err
		}
		var head auditHead
		if _, err := getJSON(txn, []byte(auditHeadKey), &head); err != nil {
			return err
		}
		if err := rebuildUnkeyed(txn, 1, func(*keyring.AuditRecord) {}); err != nil {
			return err
		}
		if _, err := getJSON(txn, []byte(auditHeadKey), &head); err != nil {
			return err
		}
		head.MAC = nil
		return setJSON(txn, []byte(auditHeadKey), head)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestLegacyRootReplayRefused upgrades a legacy keyring and then puts its
// old format-1 root record back, alone or with the old audit head, as
// someone who can write the database might to get a fresh audit key
// chaining from a record of their choice. Both must fail: the upgrade
// re-keyed the keyring under a fresh salt, so the old root's KEK opens no
// key, and a legacy root beside a MACed head is a replay.
func TestLegacyRootReplayRefused(t *testing.T) {
	tests := []struct {
		name    string
		keys    int      // keys in the keyring
		records []string // records to put back besides the root
	}{
		{"root", 2, nil},
		{"root and head", 2, []string{auditHeadKey}},
		{"root, no keys", 0, nil}, // only the head MAC tells
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			k := openInt(t, dir)
			for range tt.keys {
				if _, err := k.CreateKey(context.Background(), &keyring.CreateKeyInput{}); err != nil {
					t.Fatal(err)
				}
			}
			makeLegacy(t, k)
			old := rawRecords(t, k, append([]string{rootKey}, tt.records...))
			oldSalt := k.root.Salt
			if err := k.Close(); err != nil {
				t.Fatal(err)
			}
			k, err := Open(dir, intPass, Options{KDF: testkeys.KDF})
			if err != nil {
				t.Fatal(err)
			}
			if k.root.Format != rootFormat || bytes.Equal(k.root.Salt, oldSalt) {
				t.Fatalf("upgrade kept the salt, or format %d", k.root.Format)
			}
			putRaw(t, k, old)
			if err := k.Close(); err != nil {
				t.Fatal(err)
			}
			k, err = Open(dir, intPass, Options{KDF: testkeys.KDF})
			if err == nil {
				k.Close()
			}
			if !errors.Is(err, keyring.ErrKeyringCorrupt) {
				t.Fatalf("Open with the old legacy root put back: %v, want ErrKeyringCorrupt", err)
			}
		})
	}
}

// rawRecords returns the stored bytes of the named records.
func rawRecords(t *testing.T, k *Keyring, keys []string) map[string][]byte {
	t.Helper()
	out := make(map[string][]byte)
	err := k.db.View(func(txn *badger.Txn) error {
		for _, key := range keys {
			item, err := txn.Get([]byte(key))
			if err != nil {
				return err
			}
			if out[key], err = item.ValueCopy(nil); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// putRaw writes records back byte for byte.
func putRaw(t *testing.T, k *Keyring, recs map[string][]byte) {
	t.Helper()
	err := k.db.Update(func(txn *badger.Txn) error {
		for key, v := range recs {
			if err := txn.Set([]byte(key), v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestAuditScanDoesNotBlock holds an audit scan in the middle and checks
// that a state change (which needs the keyring's exclusive lock) and then
// a crypto operation still complete: a scan must not hold k.mu, or every
// file open would queue behind a writer waiting for a long listing.
func TestAuditScanDoesNotBlock(t *testing.T) {
	scans := []struct {
		name string
		scan func(k *Keyring) error
	}{
		{"Audit", func(k *Keyring) error { _, err := k.Audit(context.Background(), keyring.AuditFilter{}); return err }},
		{"AuditStatus", func(k *Keyring) error { _, err := k.AuditStatus(context.Background()); return err }},
	}
	for _, sc := range scans {
		t.Run(sc.name, func(t *testing.T) {
			k := auditFixture(t)
			entered, release := make(chan struct{}), make(chan struct{})
			var once sync.Once
			k.audit.testOnlyScanHook = func() {
				once.Do(func() {
					close(entered)
					<-release
				})
			}
			scanDone := make(chan error, 1)
			go func() { scanDone <- sc.scan(k) }()
			<-entered
			opsDone := make(chan error, 1)
			go func() {
				ctx := context.Background()
				out, err := k.CreateKey(ctx, &keyring.CreateKeyInput{})
				if err == nil {
					_, err = k.Encrypt(ctx, &keyring.EncryptInput{KeyId: out.KeyMetadata.KeyId, Plaintext: []byte("x")})
				}
				opsDone <- err
			}()
			select {
			case err := <-opsDone:
				if err != nil {
					t.Error(err)
				}
			case <-time.After(5 * time.Second):
				t.Error("CreateKey and Encrypt stalled behind an audit scan")
				close(release)
				<-opsDone
				<-scanDone
				return
			}
			close(release)
			if err := <-scanDone; err != nil {
				t.Fatal(err)
			}
		})
	}
}
