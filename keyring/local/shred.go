package local

import (
	"bytes"
	"crypto/hmac"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"
)

// Shredding destroyed material.
//
// Badger never overwrites: a record written again leaves its older value
// in the memtable's write-ahead log (*.mem) and in table files until a
// compaction that happens to merge both versions drops the older one, so a
// version destroyed with DestroyVersionsBelow (or a deleted key, an old
// seal after Passwd) stayed readable, with the passphrase, from the
// keyring directory. So whenever a write transaction drops a sealed blob
// (any "Sealed" or "AuditKey" member) from a covered record, the record's
// older copies are removed from disk at once, in three steps under the
// write lock:
//
//  1. journal: each such record's current value is copied to
//     "shred/<key>" (not covered by the integrity record); a deleted
//     record gets an empty journal value and an empty placeholder, since
//     DropPrefix skips keys it cannot see;
//  2. badger.DB.DropPrefix(<key>...): Badger flushes the memtables to
//     level 0 without those keys (the old write-ahead logs are deleted) and
//     rewrites every table holding one, without them;
//  3. the current values are written back from the journal, which is
//     deleted.
//
// A crash between the steps leaves the journal; the next Open checks it
// against the integrity record (the journal must be exactly the state the
// record commits to) and redoes steps 2 and 3. Records larger than the
// value threshold (512 KiB) live in the value log, which DropPrefix does
// not rewrite; no key record comes near it.

// shredLocked removes every older copy of the records keys. The caller
// holds d.mu.
func (d *database) shredLocked(keys []string) error {
	journal := make(map[string][]byte, len(keys))
	err := d.DB.Update(func(txn *badger.Txn) error {
		for _, key := range keys {
			item, err := txn.Get([]byte(key))
			var v []byte
			switch {
			case errors.Is(err, badger.ErrKeyNotFound):
				// Deleted: DropPrefix skips a key it cannot see, so an
				// empty placeholder stands in until step 3 deletes it;
				// an empty journal value means "deleted".
				if err := txn.Set([]byte(key), []byte{}); err != nil {
					return err
				}
			case err != nil:
				return err
			default:
				if v, err = item.ValueCopy(nil); err != nil {
					return err
				}
			}
			journal[key] = v
			if err := txn.Set([]byte(shredPrefix+key), v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("keyring: shred journal: %w", err)
	}
	return d.dropAndRestore(keys, journal)
}

// dropAndRestore is steps 2 and 3.
func (d *database) dropAndRestore(keys []string, journal map[string][]byte) error {
	prefixes := make([][]byte, len(keys))
	for i, key := range keys {
		prefixes[i] = []byte(key)
	}
	if err := d.DB.DropPrefix(prefixes...); err != nil {
		return fmt.Errorf("keyring: dropping older copies: %w", err)
	}
	err := d.DB.Update(func(txn *badger.Txn) error {
		for _, key := range keys {
			var err error
			if v := journal[key]; len(v) > 0 {
				err = txn.Set([]byte(key), v)
			} else {
				err = txn.Delete([]byte(key))
			}
			if err != nil {
				return err
			}
			if err := txn.Delete([]byte(shredPrefix + key)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("keyring: writing back after the shred: %w", err)
	}
	return nil
}

// recoverShred finishes a shred a crash interrupted, once the journal is
// proven to hold the state the integrity record commits to (macKey is
// K_mac). Without a journal it does nothing.
func (d *database) recoverShred(macKey []byte) error {
	journal := map[string][]byte{}
	var rec integrityRecord
	var sc *coveredScan
	err := d.DB.View(func(txn *badger.Txn) error {
		err := scanJSONRaw(txn, shredPrefix, func(key, v []byte) {
			journal[string(key[len(shredPrefix):])] = v
		})
		if err != nil || len(journal) == 0 {
			return err
		}
		if _, err := getJSON(txn, []byte(integrityKey), &rec); err != nil {
			return err
		}
		sc, err = scanCoveredWith(txn, journal)
		return err
	})
	if err != nil || len(journal) == 0 {
		return err
	}
	if !hmac.Equal(rec.MAC, integrityMAC(macKey, &rec)) || sc.n != rec.Records || !bytes.Equal(sc.digest, rec.Digest) {
		return corrupt("an interrupted removal of destroyed material left a journal that does not match the integrity record; %s", restoreHint)
	}
	keys := make([]string, 0, len(journal))
	for key := range journal {
		keys = append(keys, key)
	}
	d.log.Warn("keyring: finishing an interrupted removal of destroyed material", "records", len(keys))
	return d.dropAndRestore(keys, journal)
}

// scanJSONRaw calls fn with a copy of every key and value under prefix.
func scanJSONRaw(txn *badger.Txn, prefix string, fn func(key, v []byte)) error {
	it := txn.NewIterator(badger.IteratorOptions{PrefetchValues: true, Prefix: []byte(prefix)})
	defer it.Close()
	for it.Rewind(); it.Valid(); it.Next() {
		v, err := it.Item().ValueCopy(nil)
		if err != nil {
			return err
		}
		fn(it.Item().KeyCopy(nil), v)
	}
	return nil
}
