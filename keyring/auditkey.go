package keyring

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/dgraph-io/badger/v4"
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
//
// The verifier label changes with the format so that an attacker cannot
// downgrade a format-2 root to format 1 (dropping the audit key): the v2
// verifier does not open as a v1 one, and forging a v1 verifier needs the
// KEK. Likewise AuditFrom is bound into the audit key's seal.
//
// The head record ("meta/audit-head") carries HeadMAC = HMAC-SHA-256(audit
// key, "kmsfs v1 audit head" || seq u64 || hash), so it cannot be moved back
// to an earlier record to hide a deleted tail. What a keyed chain cannot
// detect is a rollback of the whole database (or of the head and the
// records after it) to an older copy: compare the head hash that
// `kmsfs audit verify --json` prints with one kept elsewhere for that.
const (
	legacyRootFormat   = 1
	rootFormat         = 2
	auditKeySize       = 32
	labelVerifierAADv2 = "kmsfs v2 verifier"
	labelAuditKeyAAD   = "kmsfs v1 audit key"
	labelAuditHead     = "kmsfs v1 audit head"
)

// verifierAAD returns the verifier's AAD for a root format.
func verifierAAD(format int) ([]byte, error) {
	switch format {
	case legacyRootFormat:
		return []byte(labelVerifierAAD), nil
	case rootFormat:
		return []byte(labelVerifierAADv2), nil
	}
	return nil, fmt.Errorf("%w: unknown keyring format %d", ErrInternal, format)
}

// auditKeyAAD binds the sealed audit key to the first record it chains.
func auditKeyAAD(from uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte(labelAuditKeyAAD), from)
}

// randomBytes reads n bytes from rnd.
func randomBytes(rnd io.Reader, n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(rnd, b); err != nil {
		return nil, fmt.Errorf("%w: reading random bytes: %w", ErrInternal, err)
	}
	return b, nil
}

// openAuditKey unseals a format-2 root's audit key.
func openAuditKey(kek []byte, root *rootRecord) ([]byte, error) {
	key, ok := openKEK(kek, root.AuditKey, auditKeyAAD(root.AuditFrom))
	if !ok || len(key) != auditKeySize || root.AuditFrom == 0 {
		zero(key)
		return nil, fmt.Errorf("%w: the audit key does not authenticate", ErrInternal)
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

// upgradeRoot turns a legacy (format 1) root into a format-2 one under the
// same KEK: a fresh audit key, HMAC-chaining from the record after the
// current head, and a v2 verifier. The root and the re-signed head are
// written in one transaction. It returns the new root and the audit key.
func (k *Keyring) upgradeRoot(old *rootRecord, kek []byte) (*rootRecord, []byte, error) {
	var head auditHead
	err := k.db.View(func(txn *badger.Txn) error {
		_, err := getJSON(txn, []byte(auditHeadKey), &head)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	if len(head.Hash) != sha256.Size {
		head.Hash = make([]byte, sha256.Size)
	}
	auditKey, err := randomBytes(k.opts.Rand, auditKeySize)
	if err != nil {
		return nil, nil, err
	}
	root := &rootRecord{Format: rootFormat, KDF: old.KDF, Salt: old.Salt}
	if err := sealRootSecrets(k.opts.Rand, root, kek, auditKey, head.Seq+1); err != nil {
		zero(auditKey)
		return nil, nil, err
	}
	signed := signedHead(auditKey, head.Seq, head.Hash)
	err = k.db.Update(func(txn *badger.Txn) error {
		if err := setJSON(txn, []byte(rootKey), root); err != nil {
			return err
		}
		return setJSON(txn, []byte(auditHeadKey), signed)
	})
	if err != nil {
		zero(auditKey)
		return nil, nil, fmt.Errorf("keyring: upgrading the root record: %w", err)
	}
	return root, auditKey, nil
}

// sealRootSecrets fills a format-2 root's verifier and sealed audit key.
func sealRootSecrets(rnd io.Reader, root *rootRecord, kek, auditKey []byte, from uint64) error {
	verifier, err := sealKEK(rnd, kek, []byte(labelVerifierText), []byte(labelVerifierAADv2))
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
