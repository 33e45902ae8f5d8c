package local

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/kmsfs/kmsfs/keyring"
)

var _ keyring.Service = (*Keyring)(nil)

// Keyring is the local key-management service. Create one with [Open]; it
// is safe for concurrent use. All methods after [Keyring.Close] fail with
// [keyring.ErrClosed].
type Keyring struct {
	opts Options
	dir  string
	lock *os.File
	db   *database

	// mu guards everything below. Readers (crypto operations) hold it
	// shared; changes hold it exclusively and persist before they mutate.
	mu     sync.RWMutex
	closed bool
	kek    []byte
	recMAC []byte      // the record MAC key, derived from kek (recordmac.go)
	root   *rootRecord // as on disk; for passphrase checks and Passwd
	keys   map[keyRef]*keyEntry
	// regions are the non-default regions that hold keys (mrk.go).
	regions map[string]bool
	aliases map[string]*aliasRecord
	// accessKeys are the SigV4 credentials (accesskeys.go), unsealed.
	accessKeys map[string]*accessKeyEntry
	// accountStored says "meta/account" exists, so rekey rewrites it.
	accountStored bool
	// created says this Open created the keyring.
	created bool

	// authz is the Authorizer set by SetAuthorizer (authz.go), or nil.
	authz atomic.Pointer[authorizerBox]

	audit *auditLog
	// auditReaders is held shared by Audit and AuditStatus for their whole
	// scan, instead of mu: a scan reads the database (a Badger snapshot)
	// and the audit key, never the key maps, and holding mu through it
	// would stall every crypto operation behind a waiting writer. Close
	// holds it exclusively (before mu) while it zeroes the audit key and
	// closes the database.
	auditReaders sync.RWMutex
}

// keyEntry is a key's persisted record plus its unsealed version keys.
type keyEntry struct {
	rec      *keyRecord
	material map[uint32][]byte              // version -> 32-byte key, absent once destroyed
	typed    atomic.Pointer[cachedMaterial] // parsed typed material (keytypes.go)
}

// Open opens (or with [Options.Create], creates) the keyring in dir and
// unlocks it with passphrase. A wrong passphrase fails with an error
// wrapping [keyring.ErrWrongPassphrase]; a keyring already open in another process
// (or in this one) fails with [keyring.ErrLocked]. The caller may zero passphrase
// once Open returns.
func Open(dir string, passphrase []byte, opts Options) (*Keyring, error) {
	explicitAccount := opts.Account
	if explicitAccount != "" {
		if err := validAccount(explicitAccount); err != nil {
			return nil, err
		}
	}
	opts = opts.withDefaults()
	if err := prepareDir(dir, opts.Create); err != nil {
		return nil, err
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	k := &Keyring{opts: opts, dir: dir, lock: lock}
	upgradeOp, err := k.open(passphrase)
	if err != nil {
		k.release()
		return nil, err
	}
	if err := k.audit.load(); err != nil {
		k.release()
		return nil, err
	}
	accountOp, err := k.settleAccount(explicitAccount, k.created)
	if err != nil {
		k.release()
		return nil, err
	}
	if err := ensureBallast(dir); err != nil {
		opts.Logger.Warn("keyring: making the space reserve", "err", err)
	}
	if err := restrictFiles(dir); err != nil {
		opts.Logger.Warn("keyring: restricting file modes", "err", err)
	}
	if _, err := k.purgeDue(context.Background(), k.now()); err != nil {
		opts.Logger.Warn("keyring: applying due deletions and rotations", "err", err)
	}
	k.audit.start()
	if upgradeOp != "" {
		k.audit.appendSync(keyring.AuditRecord{Op: upgradeOp, Outcome: outcomeSuccess})
	}
	k.auditAccount(accountOp)
	return k, nil
}

// prepareDir makes sure dir exists with mode 0700 when creating, and that it
// holds a database when not.
func prepareDir(dir string, create bool) error {
	found, err := hasDatabase(dir)
	if err != nil {
		return fmt.Errorf("keyring: %w", err)
	}
	if !found && !create {
		return fmt.Errorf("%w: %s", keyring.ErrNoKeyring, dir)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("keyring: %w", err)
	}
	if !found {
		return os.Chmod(dir, 0o700)
	}
	return nil
}

// open opens Badger, unlocks or creates the root record, sets up the audit
// log and loads keys. upgradeOp names the upgrade of an older keyring
// format, for the audit log, or is "".
func (k *Keyring) open(passphrase []byte) (upgradeOp string, err error) {
	if err := k.checkOpenSpace(); err != nil {
		return "", err
	}
	db, err := openBadger(k.dir, k.opts.Logger)
	if err != nil {
		return "", err
	}
	k.db = &database{DB: db, dir: k.dir, log: k.opts.Logger}
	if err := preallocate(k.dir); err != nil {
		k.opts.Logger.Warn("keyring: preallocating database files", "err", err)
	}
	var root rootRecord
	found := false
	err = db.View(func(txn *badger.Txn) error {
		found, err = getJSON(txn, []byte(rootKey), &root)
		return err
	})
	if err != nil {
		return "", err
	}
	switch {
	case !found && !k.opts.Create:
		return "", fmt.Errorf("%w: %s", keyring.ErrNoKeyring, k.dir)
	case !found:
		return "", k.createRoot(passphrase)
	}
	if err := k.unlock(&root, passphrase); err != nil {
		return "", err
	}
	if err := k.checkIntegrity(root.Format); err != nil {
		return "", err
	}
	// Records of older formats have no MACs yet; the upgrade adds them.
	if err := k.load(root.Format >= macRootFormat); err != nil {
		return "", err
	}
	if root.Format != rootFormat {
		return k.upgradeRoot(passphrase)
	}
	return "", nil
}

// checkOpenSpace refuses to open Badger on a full filesystem, where
// creating its memtable would fault (space.go), after spending the ballast.
func (k *Keyring) checkOpenSpace() error {
	if spendBallast(k.dir) {
		k.opts.Logger.Warn("keyring: the disk is full; deleted " + ballastName + " so the keyring can open")
	}
	avail, err := available(k.dir)
	if err == nil && avail < spaceReserve {
		return errNoSpace(k.dir, avail)
	}
	return nil
}

// checkIntegrity checks the integrity record of a current keyring
// (integrity.go), first finishing an interrupted shred (shred.go). An
// older root beside an integrity record, which only current code writes,
// is an older root put back. The caller is open, after unlock.
func (k *Keyring) checkIntegrity(format int) error {
	if format != rootFormat {
		has, err := k.db.hasIntegrity()
		if err != nil {
			return err
		}
		if has {
			return corrupt("a root record of format %d beside an integrity record: an older root record was put back; %s", format, restoreHint)
		}
		return nil
	}
	if err := k.db.recoverShred(k.recMAC); err != nil {
		return err
	}
	return k.db.verifyIntegrity(k.recMAC)
}

// createRoot writes a fresh root record with a fresh audit key, and the
// signed empty audit head, in one transaction.
func (k *Keyring) createRoot(passphrase []byte) error {
	auditKey, err := randomBytes(k.opts.Rand, auditKeySize)
	if err != nil {
		return err
	}
	root, kek, err := newRoot(k.opts.Rand, passphrase, k.opts.KDF, auditKey, 1)
	if err != nil {
		zero(auditKey)
		return err
	}
	head := signedHead(auditKey, 0, make([]byte, auditHashSize))
	macKey := recordMACKey(kek)
	err = k.db.updateKeyed(macKey, func(txn *badger.Txn) error {
		if err := setJSON(txn, []byte(rootKey), root); err != nil {
			return err
		}
		return setJSON(txn, []byte(auditHeadKey), head)
	})
	if err != nil {
		zero(kek)
		zero(auditKey)
		zero(macKey)
		return fmt.Errorf("keyring: writing root record: %w", err)
	}
	k.kek, k.root, k.recMAC = kek, root, macKey
	k.audit = newAuditLog(k.db, k.opts.Clock, k.opts.Logger, auditKey, 1)
	k.keys, k.aliases = make(map[keyRef]*keyEntry), make(map[string]*aliasRecord)
	k.regions = make(map[string]bool)
	k.accessKeys, k.created = make(map[string]*accessKeyEntry), true
	return nil
}

// newRoot derives a KEK from a fresh salt and builds its root record (of
// the current format) around auditKey.
func newRoot(rnd io.Reader, passphrase []byte, kdf keyring.KDFParams, auditKey []byte, auditFrom uint64) (*rootRecord, []byte, error) {
	if err := kdf.Validate(); err != nil {
		return nil, nil, err
	}
	salt, err := randomBytes(rnd, rootSaltSize)
	if err != nil {
		return nil, nil, err
	}
	kek, err := deriveKEK(passphrase, salt, kdf)
	if err != nil {
		return nil, nil, err
	}
	root := &rootRecord{Format: rootFormat, KDF: kdf, Salt: salt}
	if err := sealRootSecrets(rnd, root, kek, auditKey, auditFrom); err != nil {
		zero(kek)
		return nil, nil, err
	}
	return root, kek, nil
}

// unlock checks the passphrase against root and, unless root is a legacy
// one (which upgradeRoot replaces once the keys are loaded), sets up the
// audit log with the unsealed audit key.
func (k *Keyring) unlock(root *rootRecord, passphrase []byte) error {
	kek, err := unlockRoot(root, passphrase)
	if err != nil {
		return err
	}
	k.kek, k.root = kek, root
	if root.Format >= macRootFormat {
		k.recMAC = recordMACKey(kek)
	}
	if root.Format == legacyRootFormat {
		return nil
	}
	auditKey, err := openAuditKey(kek, root)
	if err != nil {
		return err
	}
	k.audit = newAuditLog(k.db, k.opts.Clock, k.opts.Logger, auditKey, root.AuditFrom)
	return nil
}

// unlockRoot derives the KEK and checks it against the verifier.
func unlockRoot(root *rootRecord, passphrase []byte) ([]byte, error) {
	aad, err := verifierAAD(root.Format)
	if err != nil {
		return nil, err
	}
	if err := root.KDF.Validate(); err != nil {
		return nil, fmt.Errorf("%w: stored KDF parameters: %w", keyring.ErrInternal, err)
	}
	kek, err := deriveKEK(passphrase, root.Salt, root.KDF)
	if err != nil {
		return nil, err
	}
	pt, ok := openKEK(kek, root.Verifier, aad)
	if !ok || !bytes.Equal(pt, []byte(labelVerifierText)) {
		zero(kek)
		return nil, keyring.ErrWrongPassphrase
	}
	return kek, nil
}

// checkPassphrase reports whether passphrase unlocks this keyring, without
// holding k.mu while Argon2id runs.
func (k *Keyring) checkPassphrase(passphrase []byte) error {
	k.mu.RLock()
	if k.closed {
		k.mu.RUnlock()
		return keyring.ErrClosed
	}
	root := k.root
	k.mu.RUnlock()
	kek, err := unlockRoot(root, passphrase)
	zero(kek)
	return err
}

// load reads every key and alias record, checks their MACs (with
// checkMACs) and unseals every version.
func (k *Keyring) load(checkMACs bool) error {
	k.keys = make(map[keyRef]*keyEntry)
	k.regions = make(map[string]bool)
	k.aliases = make(map[string]*aliasRecord)
	k.accessKeys = make(map[string]*accessKeyEntry)
	return k.db.View(func(txn *badger.Txn) error {
		err := scanJSON(txn, keyPrefix, func(dbKey []byte, rec *keyRecord) error {
			if checkMACs {
				if err := checkKeyRecord(k.recMAC, dbKey, rec); err != nil {
					return err
				}
			}
			rec.Region = k.loadedRegion(rec)
			e, err := k.unsealEntry(rec)
			if err == nil {
				k.keys[rec.ref()] = e
				k.noteRegion(rec.Region)
			}
			return err
		})
		if err != nil {
			return err
		}
		err = scanJSON(txn, aliasPrefix, func(dbKey []byte, a *aliasRecord) error {
			if checkMACs {
				if err := checkAliasRecord(k.recMAC, dbKey, a); err != nil {
					return err
				}
			}
			k.aliases[a.Name] = a
			return nil
		})
		if err != nil {
			return err
		}
		if err := k.readAccount(txn, checkMACs); err != nil {
			return err
		}
		return k.loadAccessKeys(txn, checkMACs)
	})
}

// unsealEntry opens a key record's sealed versions under the KEK.
func (k *Keyring) unsealEntry(rec *keyRecord) (*keyEntry, error) {
	if rec.Format != recordFormat || len(rec.Versions) == 0 {
		return nil, fmt.Errorf("%w: key %s: bad record", keyring.ErrInternal, rec.ID)
	}
	e := &keyEntry{rec: rec, material: make(map[uint32][]byte, len(rec.Versions))}
	for _, v := range rec.Versions {
		if v.Sealed == nil {
			continue
		}
		m, ok := openKEK(k.kek, v.Sealed, versionAAD(rec.ID, v.Version))
		if !ok || len(m) != materialSize {
			e.zero()
			return nil, corrupt("key %s version %d does not authenticate", rec.ID, v.Version)
		}
		e.material[v.Version] = m
	}
	return e, nil
}

func (e *keyEntry) zero() {
	for _, m := range e.material {
		zero(m)
	}
	e.dropTyped()
}

// Close flushes the audit log, closes the database, zeroes every cached key
// and releases the directory lock. Close is idempotent.
func (k *Keyring) Close() error {
	k.mu.Lock()
	if k.closed {
		k.mu.Unlock()
		return nil
	}
	k.closed = true
	k.mu.Unlock()
	// Audit records are flushed while the database is still open; no new
	// operation can start now that closed is set.
	err := k.audit.close()
	k.auditReaders.Lock() // let audit scans in progress finish
	defer k.auditReaders.Unlock()
	k.mu.Lock()
	defer k.mu.Unlock()
	return errors.Join(err, k.release())
}

// release closes what open acquired. It runs with no other user of k.
func (k *Keyring) release() error {
	var errs []error
	for _, e := range k.keys {
		e.zero()
	}
	k.keys = nil
	for _, a := range k.accessKeys {
		zero(a.secret)
	}
	k.accessKeys = nil
	zero(k.kek)
	zero(k.recMAC)
	k.kek, k.recMAC = nil, nil
	if k.audit != nil {
		zero(k.audit.key) // the flusher has stopped, or never started
	}
	if k.db != nil {
		if spendBallast(k.dir) {
			k.opts.Logger.Warn("keyring: the disk is full; deleted " + ballastName + " so the database can close")
		}
		errs = append(errs, k.db.Close())
		k.db = nil
	}
	if err := restrictFiles(k.dir); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, k.lock.Close()) // closing drops the flock
	return errors.Join(errs...)
}

// Passwd re-keys the keyring: it derives a new KEK from newPassphrase with
// kdf (zero means [DefaultKDF]) and a fresh salt, and reseals every key
// version, the audit key and the verifier under it, and recomputes every
// record MAC, in one Badger transaction, so a crash leaves either the old
// or the new passphrase working, never a mix. Data encrypted under the
// keys is untouched.
func (k *Keyring) Passwd(newPassphrase []byte, kdf keyring.KDFParams) error {
	if kdf.IsZero() {
		kdf = DefaultKDF
	}
	// The audit key and its first record never change after Open; only
	// their seal does. Close zeroes the key under k.mu, hence the copy.
	k.mu.RLock()
	if k.closed {
		k.mu.RUnlock()
		return keyring.ErrClosed
	}
	auditKey := bytes.Clone(k.audit.key)
	k.mu.RUnlock()
	defer zero(auditKey)
	root, kek, err := newRoot(k.opts.Rand, newPassphrase, kdf, auditKey, k.audit.from)
	if err != nil {
		return err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		zero(kek)
		return keyring.ErrClosed
	}
	if err := k.rekey(root, kek, nil); err != nil {
		zero(kek)
		return fmt.Errorf("keyring: changing passphrase: %w", err)
	}
	k.audit.appendSync(keyring.AuditRecord{Op: "ChangePassphrase", Outcome: outcomeSuccess})
	return nil
}

// rekey moves the keyring under a new root and its KEK: it reseals every
// key version under kek and writes every key and alias record with a MAC
// under kek's record MAC key, root, and head if not nil, in one
// transaction; only then does it switch to kek. The caller holds k.mu
// exclusively, or is Open; on failure it still owns kek.
func (k *Keyring) rekey(root *rootRecord, kek []byte, head *auditHead) error {
	recs, err := k.resealAll(kek)
	if err != nil {
		return err
	}
	aks, err := k.resealAccessKeys(kek)
	if err != nil {
		return err
	}
	macKey := recordMACKey(kek)
	err = k.db.updateKeyed(macKey, func(txn *badger.Txn) error {
		if err := k.writeAll(txn, root, recs, macKey, head); err != nil {
			return err
		}
		return k.writeAccessKeys(txn, aks, macKey)
	})
	if err != nil {
		zero(macKey)
		return err
	}
	for _, rec := range recs {
		k.keys[rec.ref()].rec = rec
	}
	for _, a := range aks {
		k.accessKeys[a.ID].rec = a
	}
	zero(k.kek)
	zero(k.recMAC)
	k.kek, k.root, k.recMAC = kek, root, macKey
	return nil
}

// resealAll returns new records for every key with versions sealed under kek.
func (k *Keyring) resealAll(kek []byte) ([]*keyRecord, error) {
	recs := make([]*keyRecord, 0, len(k.keys))
	for _, e := range k.keys {
		rec := e.rec.clone()
		for i := range rec.Versions {
			m, ok := e.material[rec.Versions[i].Version]
			if !ok || rec.Versions[i].Sealed == nil {
				continue // destroyed: never bring material back to disk
			}
			sealed, err := sealKEK(k.opts.Rand, kek, m, versionAAD(rec.ID, rec.Versions[i].Version))
			if err != nil {
				return nil, err
			}
			rec.Versions[i].Sealed = sealed
		}
		recs = append(recs, rec)
	}
	return recs, nil
}

// writeAll writes root, recs, every alias (MACed under macKey) and head if
// not nil.
func (k *Keyring) writeAll(txn *badger.Txn, root *rootRecord, recs []*keyRecord, macKey []byte, head *auditHead) error {
	if err := setJSON(txn, []byte(rootKey), root); err != nil {
		return err
	}
	for _, rec := range recs {
		if err := putKey(txn, macKey, rec); err != nil {
			return err
		}
	}
	for _, a := range k.aliases {
		if err := putAlias(txn, macKey, a); err != nil {
			return err
		}
	}
	if k.accountStored {
		if err := putAccount(txn, macKey, k.opts.Account); err != nil {
			return err
		}
	}
	if head != nil {
		return setJSON(txn, []byte(auditHeadKey), head)
	}
	return nil
}

func (k *Keyring) now() time.Time { return k.opts.Clock().UTC() }
