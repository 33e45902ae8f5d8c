package local

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
	"github.com/dgraph-io/badger/v4/y"
	"github.com/google/uuid"
	"github.com/kmsfs/kmsfs/keyring"
	"golang.org/x/sys/unix"
)

// Badger key layout. Every record is JSON; only the "Sealed" fields hold
// key material, and only sealed under the KEK.
//
//	meta/root            rootRecord: KDF params, salt, verifier, sealed audit key
//	meta/audit-head      auditHead: seq, hash and MAC of the newest audit record
//	key/<uuid>           keyRecord: metadata, sealed versions, record MAC
//	key/<region>/<uuid>  keyRecord of a key in a region other than the default
//	                     (multi-Region replicas, keys created there; mrk.go)
//	alias/<alias name>   aliasRecord, e.g. "alias/alias/fs" for alias/fs, with MAC
//	meta/account         accountRecord: the account of ARNs, with MAC (account.go)
//	accesskey/<id>       accessKeyRecord: a sealed access key secret, with MAC
//	audit/<seq u64 BE>   AuditRecord
const (
	rootKey         = "meta/root"
	auditHeadKey    = "meta/audit-head"
	accountKey      = "meta/account"
	keyPrefix       = "key/"
	aliasPrefix     = "alias/"
	auditPrefix     = "audit/"
	accessKeyPrefix = "accesskey/"
)

// recordFormat is the version of the key records; Open refuses others. The
// root record has its own versions (auditkey.go).
const recordFormat = 1

// lockName is our own lock file. Badger's directory lock cannot be told
// apart from other Open errors (it formats the errno away), so we take an
// flock of our own first and turn EWOULDBLOCK into ErrLocked.
const lockName = "kmsfs-keyring.lock"

type rootRecord struct {
	Format    int
	KDF       keyring.KDFParams
	Salt      []byte
	Verifier  []byte
	AuditKey  []byte `json:",omitempty"` // format 2 and up: sealed under the KEK
	AuditFrom uint64 `json:",omitempty"` // format 2 and up: first HMAC-chained record
}

type keyRecord struct {
	Format             int
	ID                 uuid.UUID
	Description        string
	Created            time.Time
	State              string
	DeletionDate       *time.Time `json:",omitempty"`
	PendingWindowDays  int        `json:",omitempty"`
	RotationEnabled    bool
	RotationPeriodDays int       `json:",omitempty"`
	RotationBase       time.Time // rotation enabled, or last automatic rotation
	MinDecrypt         uint32
	Versions           []versionRecord
	// Policy, Tags and Grants live in the key record, under its MAC, and
	// are written with it; absent in records older than them, which read
	// as AWS's default policy and no tags or grants. They are declared
	// before MAC and omitted when empty, so older records keep their MACs.
	Policy string        `json:",omitempty"`
	Tags   []keyring.Tag `json:",omitempty"`
	Grants []grantRecord `json:",omitempty"`
	// The key type (keytypes.go), also before MAC and omitted when
	// empty: records without them are SYMMETRIC_DEFAULT ENCRYPT_DECRYPT
	// keys of origin AWS_KMS. Typed and Import are replaced, never
	// changed in place.
	KeySpec         string          `json:",omitempty"`
	KeyUsage        string          `json:",omitempty"`
	Origin          string          `json:",omitempty"`
	ValidTo         *time.Time      `json:",omitempty"`
	ExpirationModel string          `json:",omitempty"`
	Typed           []typedMaterial `json:",omitempty"`
	Import          *importState    `json:",omitempty"`
	// Multi-Region keys (mrk.go), before MAC and omitted when empty:
	// Region is the record's region, "" for the keyring's default;
	// MultiRegion is PRIMARY or REPLICA for a key whose ID is mrk-<hex>.
	// Every record of a set has the same ID and the same version keys.
	// Home names the default region a record was made in (stored at
	// key/<uuid>), so that it stays there when the default changes.
	Region      string `json:",omitempty"`
	MultiRegion string `json:",omitempty"`
	Home        string `json:",omitempty"`
	MAC         []byte `json:",omitempty"` // root format 3 (recordmac.go)
}

// grantRecord is a grant as stored, in key records and bundles.
type grantRecord struct {
	ID          string
	Name        string `json:",omitempty"`
	Created     time.Time
	Grantee     string
	Retiring    string `json:",omitempty"`
	Issuing     string // the issuing account's root ARN
	Operations  []string
	Constraints *keyring.GrantConstraints `json:",omitempty"`
}

type versionRecord struct {
	Version      uint32
	Created      time.Time
	RotationType string `json:",omitempty"` // "" for the first version
	Sealed       []byte `json:",omitempty"` // nil once destroyed
}

type aliasRecord struct {
	Name    string // "alias/..."
	Target  uuid.UUID
	Created time.Time
	Updated time.Time
	Region  string `json:",omitempty"` // of the key it names; "" the default (mrk.go)
	MAC     []byte `json:",omitempty"` // root format 3 (recordmac.go)
}

// current returns the newest version number.
func (r *keyRecord) current() uint32 {
	return r.Versions[len(r.Versions)-1].Version
}

// clone returns a deep enough copy to modify and persist before the change
// is made visible.
func (r *keyRecord) clone() *keyRecord {
	c := *r
	c.Versions = append([]versionRecord(nil), r.Versions...)
	// Tags and grants are replaced, never changed in place, so copying
	// the slices is deep enough.
	c.Tags = slices.Clone(r.Tags)
	c.Grants = slices.Clone(r.Grants)
	c.Typed = slices.Clone(r.Typed)
	if r.DeletionDate != nil {
		d := *r.DeletionDate
		c.DeletionDate = &d
	}
	return &c
}

// keyDBKey is key/<uuid> for a record made in the default region (Region
// "" or its Home), key/<region>/<uuid> in another.
func keyDBKey(r *keyRecord) []byte {
	if r.Region == "" || r.Region == r.Home {
		return []byte(keyPrefix + r.ID.String())
	}
	return []byte(keyPrefix + r.Region + "/" + r.ID.String())
}

// ref is the record's key in Keyring.keys.
func (r *keyRecord) ref() keyRef { return keyRef{Region: r.Region, ID: r.ID} }

// keyRef names one key record: region ("" for the default) and ID.
type keyRef struct {
	Region string
	ID     uuid.UUID
}

func aliasDBKey(name string) []byte { return []byte(aliasPrefix + name) }

// openBadger opens the database with options chosen for a small keyring:
// synchronous writes (a committed key is durable before it is used), one
// version per key, small memtables and no compression, so the directory is
// small and opens fast.
func openBadger(dir string, log *slog.Logger) (db *badger.DB, err error) {
	if err := guardDatabase(dir); err != nil {
		return nil, err
	}
	opt := badger.DefaultOptions(dir).
		// Every table and block read is checked against its checksum, so a
		// flipped bit in a table file is an error, not a wrong record.
		WithChecksumVerificationMode(options.OnTableAndBlockRead).
		WithSyncWrites(true).
		WithLogger(badgerLogger{log}).
		WithNumVersionsToKeep(1).
		WithMemTableSize(4 << 20).
		WithNumMemtables(2).
		WithNumLevelZeroTables(2).
		WithNumLevelZeroTablesStall(8).
		WithBaseTableSize(1 << 20).
		WithBaseLevelSize(4 << 20).
		WithValueLogFileSize(4 << 20).
		// Records stay in the LSM tree, where a shred (shred.go) reaches them.
		WithValueThreshold(512 << 10).
		WithNumCompactors(2).
		WithCompression(options.None).
		WithBlockCacheSize(0).
		WithIndexCacheSize(0).
		WithMetricsEnabled(false).
		WithCompactL0OnClose(true)
	// Badger panics on some damaged files while opening them (a truncated
	// table); damaged data on disk must be an error, never a crash.
	defer func() {
		if r := recover(); r != nil {
			db, err = nil, corrupt("a database file is damaged (%v); %s", r, restoreHint)
		}
	}()
	db, err = badger.Open(opt)
	if errors.Is(err, y.ErrChecksumMismatch) {
		return nil, corrupt("a database file fails its checksum (%v); %s", err, restoreHint)
	}
	if err != nil {
		return nil, fmt.Errorf("keyring: opening database: %w", err)
	}
	return db, nil
}

// badgerLogger forwards only Badger's warnings and errors. Badger logs file
// names and sizes, never values, so nothing it says is secret.
type badgerLogger struct{ log *slog.Logger }

func (l badgerLogger) Errorf(f string, a ...any)   { l.log.Error("badger: " + fmt.Sprintf(f, a...)) }
func (l badgerLogger) Warningf(f string, a ...any) { l.log.Warn("badger: " + fmt.Sprintf(f, a...)) }
func (badgerLogger) Infof(string, ...any)          {}
func (badgerLogger) Debugf(string, ...any)         {}

// hasDatabase reports whether dir holds a Badger database, so Open without
// Create never makes one.
func hasDatabase(dir string) (bool, error) {
	_, err := os.Stat(filepath.Join(dir, "MANIFEST"))
	if errors.Is(err, fs.ErrNotExist) {
		// Without a MANIFEST a directory holding database files is a
		// damaged keyring, not a missing one: creating a new keyring there
		// would let Badger delete the old tables.
		return false, guardDatabase(dir)
	}
	return err == nil, err
}

// lockDir takes the exclusive lock that says a process has this keyring
// open; a second Open (in any process) fails with ErrLocked.
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, lockName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s", keyring.ErrLocked, dir)
		}
		return nil, fmt.Errorf("keyring: locking %s: %w", dir, err)
	}
	return f, nil
}

// restrictFiles makes every regular file in dir mode 0600. Badger creates
// some files 0666 (less umask); the directory itself is 0700 anyway.
func restrictFiles(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.Type().IsRegular() {
			if err := os.Chmod(filepath.Join(dir, e.Name()), 0o600); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
	}
	return nil
}

// getJSON reads one record; found is false when the key does not exist.
func getJSON(txn *badger.Txn, key []byte, v any) (found bool, err error) {
	item, err := txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	err = item.Value(func(b []byte) error { return json.Unmarshal(b, v) })
	if err != nil {
		return true, fmt.Errorf("%w: record %q: %w", keyring.ErrInternal, key, err)
	}
	return true, nil
}

func setJSON(txn *badger.Txn, key []byte, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("%w: encoding %q: %w", keyring.ErrInternal, key, err)
	}
	return txn.Set(key, b)
}

// scanJSON calls fn for every record under prefix, in key order.
func scanJSON[T any](txn *badger.Txn, prefix string, fn func(key []byte, v *T) error) error {
	it := txn.NewIterator(badger.IteratorOptions{PrefetchValues: true, PrefetchSize: 64, Prefix: []byte(prefix)})
	defer it.Close()
	for it.Rewind(); it.Valid(); it.Next() {
		item := it.Item()
		var v T
		if err := item.Value(func(b []byte) error { return json.Unmarshal(b, &v) }); err != nil {
			return fmt.Errorf("%w: record %q: %w", keyring.ErrInternal, item.Key(), err)
		}
		if err := fn(item.KeyCopy(nil), &v); err != nil {
			return err
		}
	}
	return nil
}
