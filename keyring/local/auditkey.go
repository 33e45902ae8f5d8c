package local

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/dgraph-io/badger/v4"
	"github.com/kmsfs/kmsfs/keyring"
)

// The audit key.
//
// The audit chain is keyed: every record's Hash is an HMAC-SHA-256 under a
// random 32-byte audit key, so someone who can write the database but does
// not know the passphrase cannot rebuild the chain after editing, deleting
// or reordering records (a plain hash chain they could simply recompute).
// The audit key is stored only sealed under the KEK in the root record, as
// key versions are, and [Keyring.Passwd] reseals it with them. It never
// leaves the keyring: bundles ([Keyring.ExportKeyring]) do not carry it, and
// an imported keyring keeps its own log.
//
// Root record formats:
//
//   - format 1 (legacy): no audit key; the verifier is sealed with AAD
//     "kmsfs v1 verifier"; the audit chain is plain SHA-256.
//   - format 2: the verifier is sealed with AAD "kmsfs v2 verifier" and the
//     root holds AuditKey = seal(KEK, audit key, AAD = "kmsfs v1 audit key"
//     || AuditFrom u64). Records with Seq >= AuditFrom are HMAC-chained;
//     older ones (written before the upgrade) keep their SHA-256 hashes,
//     and are covered by the HMAC of record AuditFrom, which chains from
//     their last hash.
//   - format 3: as format 2, with the verifier sealed with AAD "kmsfs v3
//     verifier", and every key and alias record carries a MAC under a key
//     derived from the KEK (recordmac.go).
//   - format 4: as format 3, with the verifier sealed with AAD "kmsfs v4
//     verifier", and every write transaction writes the integrity record
//     (integrity.go), which Open requires.
//
// The verifier label changes with the format so that an attacker cannot
// downgrade a root to an older format (dropping the audit key, or the
// record MACs): the v3 verifier does not open as a v2 or v1 one, and
// forging one needs the KEK. Likewise AuditFrom is bound into the audit
// key's seal. Nor can the attacker put back the keyring's own old root of
// an older format: the upgrade re-keys the keyring under a fresh salt
// (upgradeRoot), so the old root's KEK opens none of the keys, and a
// legacy root beside a MACed head is refused with [keyring.ErrKeyringCorrupt].
//
// The head record ("meta/audit-head") carries HeadMAC = HMAC-SHA-256(audit
// key, "kmsfs v1 audit head" || seq u64 || hash), so it cannot be moved back
// to an earlier record to hide a deleted tail. What a keyed chain cannot
// detect is a rollback of the whole database (or of the head and the
// records after it) to an older copy: compare the head hash that
// `kmsfs audit verify --json` prints with one kept elsewhere for that.
const (
	legacyRootFormat   = 1
	auditRootFormat    = 2 // audit key, no record MACs yet
	macRootFormat      = 3 // record MACs, no integrity record yet
	rootFormat         = 4
	auditKeySize       = 32
	labelVerifierAADv2 = "kmsfs v2 verifier"
	labelVerifierAADv3 = "kmsfs v3 verifier"
	labelVerifierAADv4 = "kmsfs v4 verifier"
	labelAuditKeyAAD   = "kmsfs v1 audit key"
	labelAuditHead     = "kmsfs v1 audit head"
)

// verifierAAD returns the verifier's AAD for a root format.
func verifierAAD(format int) ([]byte, error) {
	switch format {
	case legacyRootFormat:
		return []byte(labelVerifierAAD), nil
	case auditRootFormat:
		return []byte(labelVerifierAADv2), nil
	case macRootFormat:
		return []byte(labelVerifierAADv3), nil
	case rootFormat:
		return []byte(labelVerifierAADv4), nil
	}
	return nil, fmt.Errorf("%w: unknown keyring format %d", keyring.ErrInternal, format)
}

// auditKeyAAD binds the sealed audit key to the first record it chains.
func auditKeyAAD(from uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte(labelAuditKeyAAD), from)
}

// randomBytes reads n bytes from rnd.
func randomBytes(rnd io.Reader, n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(rnd, b); err != nil {
		return nil, fmt.Errorf("%w: reading random bytes: %w", keyring.ErrInternal, err)
	}
	return b, nil
}

// openAuditKey unseals the audit key of a root of format 2 or up.
func openAuditKey(kek []byte, root *rootRecord) ([]byte, error) {
	key, ok := openKEK(kek, root.AuditKey, auditKeyAAD(root.AuditFrom))
	if !ok || len(key) != auditKeySize || root.AuditFrom == 0 {
		zero(key)
		return nil, fmt.Errorf("%w: the audit key does not authenticate", keyring.ErrInternal)
	}
	return key, nil
}

// headMAC authenticates the audit head under the audit key.
func headMAC(key []byte, h *auditHead) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(labelAuditHead))
	m.Write(binary.BigEndian.AppendUint64(nil, h.Seq))
	m.Write(h.Hash)
	return m.Sum(nil)
}

// signedHead returns the head naming seq and hash, with its MAC.
func signedHead(key []byte, seq uint64, hash []byte) auditHead {
	h := auditHead{Seq: seq, Hash: hash}
	h.MAC = headMAC(key, &h)
	return h
}

// upgradeRoot turns a root of an older format into a current one. A legacy
// (format 1) root gets a fresh audit key, HMAC-chaining from the record
// after the current head, whose re-signed head is written too; a format-2
// root keeps its audit key. Either way everything else is done as Passwd
// does it, under a fresh salt and so a fresh KEK (the KDF parameters are
// kept): every key version is resealed, and every key and alias record
// gets its MAC, in one transaction. It returns the audit operation to
// record.
//
// The fresh KEK is what makes the upgrade stick: the old root still holds
// a valid verifier under the old KEK, and put back in place it would make
// the next Open upgrade again (for format 1, with a new audit key chaining
// from wherever the attacker likes; for either, accepting records without
// MACs). Under the new KEK no key record opens with the old root any more.
// A keyring with no keys has nothing the old KEK could open, so in
// addition a legacy root beside a MACed audit head (only newer code writes
// head MACs) is refused as a replay.
//
// The caller has loaded the keys under the old KEK and holds no lock (Open).
func (k *Keyring) upgradeRoot(passphrase []byte) (op string, err error) {
	if k.root.Format != legacyRootFormat {
		root, kek, err := newRoot(k.opts.Rand, passphrase, k.root.KDF, k.audit.key, k.audit.from)
		if err == nil {
			err = k.rekey(root, kek, nil)
		}
		if err != nil {
			zero(kek)
			return "", fmt.Errorf("keyring: upgrading the root record: %w", err)
		}
		return "UpgradeKeyring", nil
	}
	head, err := k.legacyHead()
	if err != nil {
		return "", err
	}
	auditKey, err := randomBytes(k.opts.Rand, auditKeySize)
	if err != nil {
		return "", err
	}
	root, kek, err := newRoot(k.opts.Rand, passphrase, k.root.KDF, auditKey, head.Seq+1)
	if err == nil {
		signed := signedHead(auditKey, head.Seq, head.Hash)
		err = k.rekey(root, kek, &signed)
	}
	if err != nil {
		zero(kek)
		zero(auditKey)
		return "", fmt.Errorf("keyring: upgrading the root record: %w", err)
	}
	k.audit = newAuditLog(k.db, k.opts.Clock, k.opts.Logger, auditKey, root.AuditFrom)
	return "CreateAuditKey", nil
}

// legacyHead reads the audit head of a format-1 keyring, refusing one that
// newer code signed.
func (k *Keyring) legacyHead() (auditHead, error) {
	var head auditHead
	err := k.db.View(func(txn *badger.Txn) error {
		_, err := getJSON(txn, []byte(auditHeadKey), &head)
		return err
	})
	if err != nil {
		return head, err
	}
	if head.MAC != nil {
		return head, corrupt("a legacy root record beside a keyed audit head: an older root record was put back")
	}
	if len(head.Hash) != sha256.Size {
		head.Hash = make([]byte, sha256.Size)
	}
	return head, nil
}

// sealRootSecrets fills a current root's verifier and sealed audit key.
func sealRootSecrets(rnd io.Reader, root *rootRecord, kek, auditKey []byte, from uint64) error {
	verifier, err := sealKEK(rnd, kek, []byte(labelVerifierText), []byte(labelVerifierAADv4))
	if err != nil {
		return err
	}
	sealed, err := sealKEK(rnd, kek, auditKey, auditKeyAAD(from))
	if err != nil {
		return err
	}
	root.Verifier, root.AuditKey, root.AuditFrom = verifier, sealed, from
	return nil
}
