package local

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"

	"github.com/dgraph-io/badger/v4"
	"github.com/kmsfs/kmsfs/keyring"
)

// The integrity record (issue 12, items 5 and 6).
//
// Record MACs (recordmac.go) prove that each record was written by someone
// with the KEK, but not that it is the newest one written: an older copy
// of a key record put back (re-enabling a disabled key, cancelling a
// deletion, bringing back destroyed versions) carries a valid MAC, and so
// does an older audit head put back after the newest audit records were
// deleted. So since root format 4 every write transaction also writes
// "meta/integrity":
//
//	Gen       u64: the keyring-wide generation, one more in every write
//	Records   the number of covered records
//	Digest    SHA-256 over the covered records in key order, each as
//	          u16 len(key) || key || SHA-256(value)
//	AuditSeq, AuditHash: the audit head written in the same transaction
//	MAC       HMAC-SHA-256(K_mac, u16 len("integrity") || "integrity" || u16 len("integrity") || "integrity" || canonical JSON without MAC)
//
// Covered are all records but the audit records, the audit head (bound
// through AuditSeq and AuditHash instead) and the integrity record itself:
// the root, key, alias, account and access key records, and any kind added
// later. Every record so carries, through the digest, the generation of
// the transaction that last wrote it. [Open] recomputes the digest and
// compares the head, and refuses any difference with
// [keyring.ErrKeyringCorrupt]: one record put back from an older copy,
// deleted or added; or the audit head moved back (with the records after
// it deleted), which also wraps an [*keyring.AuditError]. Writing the
// record needs K_mac, so someone without the passphrase cannot re-seal it
// over their edit.
//
// What stays undetectable is a rollback of the whole keyring state: the
// integrity record put back together with every record, audit record and
// head of the same moment, which is what copying back the whole directory
// does. Only a generation or audit head kept elsewhere (`kmsfs audit verify
// --json` prints the head) can show that.
//
// Every write goes through [database.Update], which Badger's own Update is
// shadowed by, so no write path can forget the record; a write made around
// it (as a test's tampering) makes the next Open refuse.

const (
	integrityKey        = "meta/integrity"
	recordKindIntegrity = "integrity"
	shredPrefix         = "shred/" // journal of a shred in progress (shred.go)
)

type integrityRecord struct {
	Gen       uint64
	Records   int
	Digest    []byte
	AuditSeq  uint64
	AuditHash []byte `json:",omitempty"`
	MAC       []byte `json:",omitempty"`
}

func integrityMAC(macKey []byte, r *integrityRecord) []byte {
	c := *r
	c.MAC = nil
	return recordMAC(macKey, recordKindIntegrity, recordKindIntegrity, canonicalJSON(&c))
}

// database is the Badger database with the integrity record kept in every
// write transaction.
type database struct {
	*badger.DB
	dir string
	log *slog.Logger

	// mu serializes write transactions: each reads and rewrites the
	// integrity record.
	mu sync.Mutex
	// macKey is K_mac, nil while the keyring has no integrity record yet
	// (before the upgrade of an older format).
	macKey []byte
	state  integrityRecord // as last committed
	// sealed maps each covered record to the sealed blobs it holds, so a
	// write that drops one shreds the record's older copies (shred.go).
	sealed map[string][]string
}

// Update runs fn in a write transaction that also rewrites the integrity
// record over every covered record.
func (d *database) Update(fn func(txn *badger.Txn) error) error {
	return d.update(nil, true, fn)
}

// updateKeyed is Update under a new K_mac (a re-key), which the database
// uses from then on.
func (d *database) updateKeyed(macKey []byte, fn func(txn *badger.Txn) error) error {
	return d.update(macKey, true, fn)
}

// updateAudit is Update for a transaction that writes only audit records
// and the audit head: the covered records are unchanged, so it reuses
// their digest.
func (d *database) updateAudit(fn func(txn *badger.Txn) error) error {
	return d.update(nil, false, fn)
}

func (d *database) update(macKey []byte, full bool, fn func(txn *badger.Txn) error) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.checkSpace(); err != nil {
		return err
	}
	key := macKey
	if key == nil {
		key = d.macKey
	}
	var next integrityRecord
	var sc *coveredScan
	err := d.DB.Update(func(txn *badger.Txn) error {
		if err := fn(txn); err != nil {
			return err
		}
		if key == nil {
			return nil
		}
		next = d.state
		if full {
			var err error
			if sc, err = scanCovered(txn); err != nil {
				return err
			}
			next.Digest, next.Records = sc.digest, sc.n
		}
		var head auditHead
		if _, err := getJSON(txn, []byte(auditHeadKey), &head); err != nil {
			return err
		}
		next.Gen++
		next.AuditSeq, next.AuditHash = head.Seq, head.Hash
		next.MAC = integrityMAC(key, &next)
		return setJSON(txn, []byte(integrityKey), &next)
	})
	if err != nil {
		return spaceError(d.dir, err)
	}
	if err := preallocate(d.dir); err != nil {
		d.log.Warn("keyring: preallocating database files", "err", err)
	}
	if key == nil {
		return nil
	}
	d.state = next
	if macKey != nil {
		d.macKey = macKey
	}
	if sc != nil {
		gone := droppedSealed(d.sealed, sc.sealed)
		d.sealed = sc.sealed
		if len(gone) > 0 {
			if err := d.shredLocked(gone); err != nil {
				d.log.Warn("keyring: removing older copies of destroyed material", "err", err)
			}
		}
	}
	return nil
}

// coveredScan is what scanCovered finds.
type coveredScan struct {
	n      int
	digest []byte
	sealed map[string][]string
}

// covered reports whether the integrity digest covers a record.
func covered(key []byte) bool {
	return !bytes.HasPrefix(key, []byte(auditPrefix)) && !bytes.HasPrefix(key, []byte(shredPrefix)) &&
		!bytes.Equal(key, []byte(auditHeadKey)) && !bytes.Equal(key, []byte(integrityKey))
}

// scanCovered reads every covered record, in key order.
func scanCovered(txn *badger.Txn) (*coveredScan, error) { return scanCoveredWith(txn, nil) }

// scanCoveredWith is scanCovered with the records in override (a shred
// journal, shred.go) taking the values given there, present in the
// database or not.
func scanCoveredWith(txn *badger.Txn, override map[string][]byte) (*coveredScan, error) {
	it := txn.NewIterator(badger.IteratorOptions{PrefetchValues: true, PrefetchSize: 64})
	defer it.Close()
	sums := make(map[string][sha256.Size]byte)
	sc := &coveredScan{sealed: make(map[string][]string)}
	add := func(key string, v []byte) {
		sums[key] = sha256.Sum256(v)
		if blobs := sealedBlobs(v); len(blobs) > 0 {
			sc.sealed[key] = blobs
		}
	}
	for it.Rewind(); it.Valid(); it.Next() {
		if bytes.HasPrefix(it.Item().Key(), []byte(auditPrefix)) {
			// Skip the audit log, which can be long: seek past its prefix.
			it.Seek(append([]byte(auditPrefix[:len(auditPrefix)-1]), auditPrefix[len(auditPrefix)-1]+1))
			if !it.Valid() {
				break
			}
		}
		key := it.Item().Key()
		if _, ok := override[string(key)]; ok || !covered(key) {
			continue
		}
		if err := it.Item().Value(func(v []byte) error { add(string(key), v); return nil }); err != nil {
			return nil, err
		}
	}
	for key, v := range override {
		if len(v) == 0 {
			delete(sums, key) // a journal's "deleted"
			delete(sc.sealed, key)
			continue
		}
		add(key, v)
	}
	h := sha256.New()
	for _, key := range slices.Sorted(maps.Keys(sums)) {
		sum := sums[key]
		h.Write(binary.BigEndian.AppendUint16(nil, uint16(len(key))))
		h.Write([]byte(key))
		h.Write(sum[:])
	}
	sc.n, sc.digest = len(sums), h.Sum(nil)
	return sc, nil
}

// sealedBlobs returns the values of every "Sealed" or "AuditKey" member
// in a JSON record, at any depth: the material sealed under the KEK.
func sealedBlobs(v []byte) []string {
	var doc any
	if json.Unmarshal(v, &doc) != nil {
		return nil
	}
	var out []string
	var walk func(x any)
	walk = func(x any) {
		switch x := x.(type) {
		case map[string]any:
			for name, m := range x {
				if s, ok := m.(string); ok && s != "" && (name == "Sealed" || name == "AuditKey") {
					out = append(out, s)
				}
				walk(m)
			}
		case []any:
			for _, m := range x {
				walk(m)
			}
		}
	}
	walk(doc)
	return out
}

// droppedSealed returns the records that held a sealed blob in before and
// no longer hold it in after (or are gone).
func droppedSealed(before, after map[string][]string) []string {
	var out []string
	for key, blobs := range before {
		now := make(map[string]bool, len(after[key]))
		for _, b := range after[key] {
			now[b] = true
		}
		for _, b := range blobs {
			if !now[b] {
				out = append(out, key)
				break
			}
		}
	}
	return out
}

// verifyIntegrity checks the integrity record of a format-4 keyring at
// Open, before anything is written, and from then on keeps it under
// macKey.
func (d *database) verifyIntegrity(macKey []byte) error {
	var rec integrityRecord
	var head auditHead
	var sc *coveredScan
	err := d.DB.View(func(txn *badger.Txn) error {
		found, err := getJSON(txn, []byte(integrityKey), &rec)
		if err != nil {
			return err
		}
		if !found {
			return corrupt("the integrity record is missing; %s", restoreHint)
		}
		if !hmac.Equal(rec.MAC, integrityMAC(macKey, &rec)) {
			return corrupt("the integrity record does not authenticate; %s", restoreHint)
		}
		if sc, err = scanCovered(txn); err != nil {
			return err
		}
		_, err = getJSON(txn, []byte(auditHeadKey), &head)
		return err
	})
	if err != nil {
		return err
	}
	if sc.n != rec.Records || !bytes.Equal(sc.digest, rec.Digest) {
		return corrupt("the keyring holds %d records where its integrity record (generation %d) lists %d, or one of them differs: "+
			"a record was put back from an older copy, deleted or added; %s", sc.n, rec.Gen, rec.Records, restoreHint)
	}
	if head.Seq != rec.AuditSeq || !bytes.Equal(head.Hash, rec.AuditHash) {
		ae := &keyring.AuditError{Seq: min(head.Seq, rec.AuditSeq) + 1,
			Reason: fmt.Sprintf("the audit head names record %d but the keyring's integrity record names record %d: the newest audit records were cut", head.Seq, rec.AuditSeq)}
		return fmt.Errorf("%w (%w)", corrupt("the audit log was rolled back; %s", restoreHint), ae)
	}
	d.macKey, d.state, d.sealed = macKey, rec, sc.sealed
	return nil
}

// hasIntegrity reports whether the database holds an integrity record,
// which only format-4 code writes.
func (d *database) hasIntegrity() (bool, error) {
	found := false
	err := d.DB.View(func(txn *badger.Txn) error {
		_, err := txn.Get([]byte(integrityKey))
		found = err == nil
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		return err
	})
	return found, err
}
