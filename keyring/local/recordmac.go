package local

import (
	"bytes"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"

	"github.com/dgraph-io/badger/v4"
)

// Record MACs.
//
// Key and alias records are plain JSON; only their version keys are sealed.
// Without more, someone who can write the database could re-enable a
// disabled key, lower its minimum decryption version, drop its newer
// versions or repoint an alias. So since root format 3 every key and alias
// record carries
//
//	MAC     = HMAC-SHA-256(K_mac, u16 len(kind) || kind || u16 len(id) || id || canonical)
//	K_mac   = HKDF-SHA-256(ikm=KEK, salt="", info="kmsfs keyring record mac")
//
// where kind is "key" or "alias", id the key's UUID or the alias name, and
// canonical the record's JSON without its MAC member (Go encodes a struct's
// fields in declaration order, so the encoding is canonical). [Open]
// refuses a record whose MAC is missing or wrong with [keyring.ErrKeyringCorrupt];
// [Keyring.Passwd] recomputes every MAC under the new KEK. A keyring of an
// older format gets its MACs on its first Open (upgradeRoot), which also
// re-keys it, so that its old root record put back opens nothing.
//
// What record MACs cannot detect: a whole record deleted (a key or alias
// vanishes), or an older copy of a record put back while the KEK is
// unchanged (a key's state rolled back); Passwd changes the KEK and so ends
// the second.
const (
	infoRecordMAC   = "kmsfs keyring record mac"
	recordKindKey   = "key"
	recordKindAlias = "alias"
)

// recordMACKey derives K_mac from the KEK. The caller zeroes it.
func recordMACKey(kek []byte) []byte {
	key, err := hkdf.Key(sha256.New, kek, nil, infoRecordMAC, 32)
	if err != nil {
		panic("keyring: internal error: " + err.Error())
	}
	return key
}

// recordMAC authenticates one record's canonical encoding.
func recordMAC(macKey []byte, kind, id string, canonical []byte) []byte {
	m := hmac.New(sha256.New, macKey)
	m.Write(binary.BigEndian.AppendUint16(nil, uint16(len(kind))))
	m.Write([]byte(kind))
	m.Write(binary.BigEndian.AppendUint16(nil, uint16(len(id))))
	m.Write([]byte(id))
	m.Write(canonical)
	return m.Sum(nil)
}

// canonicalJSON encodes a record without its MAC.
func canonicalJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("keyring: internal error: " + err.Error())
	}
	return b
}

// keyMAC is the MAC of rec, whatever its MAC member holds.
func keyMAC(macKey []byte, rec *keyRecord) []byte {
	c := *rec
	c.MAC = nil
	return recordMAC(macKey, recordKindKey, c.ID.String(), canonicalJSON(&c))
}

// aliasMAC is the MAC of a, whatever its MAC member holds.
func aliasMAC(macKey []byte, a *aliasRecord) []byte {
	c := *a
	c.MAC = nil
	return recordMAC(macKey, recordKindAlias, c.Name, canonicalJSON(&c))
}

// putKey writes a key record with its MAC under macKey; rec itself is not
// changed.
func putKey(txn *badger.Txn, macKey []byte, rec *keyRecord) error {
	c := *rec
	c.MAC = keyMAC(macKey, rec)
	return setJSON(txn, keyDBKey(rec), &c)
}

// putAlias writes an alias record with its MAC under macKey.
func putAlias(txn *badger.Txn, macKey []byte, a *aliasRecord) error {
	c := *a
	c.MAC = aliasMAC(macKey, a)
	return setJSON(txn, aliasDBKey(a.Name), &c)
}

// checkKeyRecord verifies a key record loaded from dbKey.
func checkKeyRecord(macKey, dbKey []byte, rec *keyRecord) error {
	if !bytes.Equal(dbKey, keyDBKey(rec)) {
		return corrupt("record %q holds key %s", truncate(string(dbKey)), rec.ID)
	}
	if !hmac.Equal(rec.MAC, keyMAC(macKey, rec)) {
		return corrupt("key %s: record does not authenticate", rec.ID)
	}
	return nil
}

// checkAliasRecord verifies an alias record loaded from dbKey.
func checkAliasRecord(macKey, dbKey []byte, a *aliasRecord) error {
	if validAliasName(a.Name) != nil || !bytes.Equal(dbKey, aliasDBKey(a.Name)) {
		return corrupt("record %q holds alias %q", truncate(string(dbKey)), truncate(a.Name))
	}
	if !hmac.Equal(a.MAC, aliasMAC(macKey, a)) {
		return corrupt("alias %s: record does not authenticate", a.Name)
	}
	return nil
}
