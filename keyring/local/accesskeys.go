package local

import (
	"bytes"
	"context"
	"crypto/hmac"
	"encoding/base32"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/kmsfs/kmsfs/keyring"
)

// Access keys.
//
// An access key is what a SigV4 transport authenticates requests with: an
// ID ("AKIA" and 16 characters of the base32 alphabet, as AWS's) and a
// 40-character secret, both from crypto/rand (Options.Rand). It acts as an
// IAM user or role of the keyring's account. Its record
// ("accesskey/<id>") is MACed like key records (kind "accesskey", id the
// access key ID), and holds the secret only sealed under the KEK, as key
// material is:
//
//	Sealed = seal(KEK, secret, AAD = "kmsfs v1 access key" || id)
//
// Passwd reseals secrets with the key versions. Access keys are this
// server's credentials, not key material: bundles never carry them, and an
// import leaves them alone.
//
// Only the account root (or a caller without a principal: the unix socket,
// in-process callers) may manage access keys; the server looks them up with
// [Keyring.LookupAccessKey], which is never served on the wire.

const (
	recordKindAccessKey = "accesskey"
	labelAccessKeyAAD   = "kmsfs v1 access key"
	accessKeyIDPrefix   = "AKIA"
	accessKeyIDRandom   = 10 // bytes: 16 base32 characters
	secretKeyRandom     = 30 // bytes: 40 base64 characters
	maxAccessKeys       = 1000
	maxIAMNameLen       = 64
)

var _ keyring.AccessKeys = (*Keyring)(nil)
var _ keyring.AccessKeyLookup = (*Keyring)(nil)

type accessKeyRecord struct {
	ID       string
	UserName string `json:",omitempty"`
	RoleName string `json:",omitempty"`
	Status   string
	Created  time.Time
	Sealed   []byte
	MAC      []byte `json:",omitempty"`
}

type accessKeyEntry struct {
	rec    *accessKeyRecord
	secret []byte
}

func accessKeyDBKey(id string) []byte { return []byte(accessKeyPrefix + id) }

func accessKeyAAD(id string) []byte { return append([]byte(labelAccessKeyAAD), id...) }

func accessKeyMAC(macKey []byte, a *accessKeyRecord) []byte {
	c := *a
	c.MAC = nil
	return recordMAC(macKey, recordKindAccessKey, c.ID, canonicalJSON(&c))
}

func putAccessKey(txn *badger.Txn, macKey []byte, a *accessKeyRecord) error {
	c := *a
	c.MAC = accessKeyMAC(macKey, a)
	return setJSON(txn, accessKeyDBKey(a.ID), &c)
}

// loadAccessKeys reads, checks and unseals every access key. The caller is
// load, inside its transaction.
func (k *Keyring) loadAccessKeys(txn *badger.Txn, checkMACs bool) error {
	return scanJSON(txn, accessKeyPrefix, func(dbKey []byte, a *accessKeyRecord) error {
		if checkMACs && (!bytes.Equal(dbKey, accessKeyDBKey(a.ID)) || !hmac.Equal(a.MAC, accessKeyMAC(k.recMAC, a))) {
			return corrupt("access key record %q does not authenticate", truncate(string(dbKey)))
		}
		secret, ok := openKEK(k.kek, a.Sealed, accessKeyAAD(a.ID))
		if !ok {
			return corrupt("access key %s does not authenticate", truncate(a.ID))
		}
		k.accessKeys[a.ID] = &accessKeyEntry{rec: a, secret: secret}
		return nil
	})
}

// resealAccessKeys returns every access key record sealed under kek.
func (k *Keyring) resealAccessKeys(kek []byte) ([]*accessKeyRecord, error) {
	out := make([]*accessKeyRecord, 0, len(k.accessKeys))
	for _, a := range k.accessKeys {
		c := *a.rec
		sealed, err := sealKEK(k.opts.Rand, kek, a.secret, accessKeyAAD(c.ID))
		if err != nil {
			return nil, err
		}
		c.Sealed = sealed
		out = append(out, &c)
	}
	return out, nil
}

func (k *Keyring) writeAccessKeys(txn *badger.Txn, recs []*accessKeyRecord, macKey []byte) error {
	for _, a := range recs {
		if err := putAccessKey(txn, macKey, a); err != nil {
			return err
		}
	}
	return nil
}

// newAccessKeyID returns "AKIA" and 16 base32 characters.
func newAccessKeyID(rnd []byte) string {
	return accessKeyIDPrefix + base32.StdEncoding.EncodeToString(rnd)
}

// validIAMName applies IAM's rule for user and role names.
func validIAMName(member, s string) error {
	if s == "" || len(s) > maxIAMNameLen {
		return fmt.Errorf("%w: %s must be 1 to %d characters", keyring.ErrValidation, member, maxIAMNameLen)
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("+=,.@_-", c) >= 0) {
			return fmt.Errorf("%w: %s %q has characters outside [A-Za-z0-9+=,.@_-]", keyring.ErrValidation, member, truncate(s))
		}
	}
	return nil
}

// principalOf is the IAM principal an access key acts as.
func (k *Keyring) principalOf(a *accessKeyRecord) keyring.Principal {
	p := keyring.Principal{Account: k.opts.Account, AccessKeyID: a.ID}
	if a.RoleName != "" {
		p.ARN = "arn:aws:iam::" + k.opts.Account + ":role/" + a.RoleName
	} else {
		p.ARN, p.UserName = "arn:aws:iam::"+k.opts.Account+":user/"+a.UserName, a.UserName
	}
	return p
}

func (k *Keyring) accessKeyOut(a *accessKeyRecord) keyring.AccessKey {
	return keyring.AccessKey{AccessKeyId: a.ID, UserName: a.UserName, RoleName: a.RoleName,
		Arn: k.principalOf(a).ARN, Status: a.Status, CreateDate: keyring.EpochTime{Time: a.Created}}
}

// rootOnly refuses a caller whose principal is not the account root.
// Callers without a principal (the unix socket, in-process) pass.
func (k *Keyring) rootOnly(ctx context.Context, op string) error {
	p, ok := keyring.PrincipalFrom(ctx)
	if !ok || p.ARN == k.rootARN() {
		return nil
	}
	return fmt.Errorf("%w: %s is not authorized to perform kms:%s: only the account root manages access keys",
		keyring.ErrAccessDenied, p.ARN, op)
}

// CreateAccessKey makes a new access key, Active, and returns its secret;
// the secret is never shown again. It is durable before it is returned.
func (k *Keyring) CreateAccessKey(ctx context.Context, in *keyring.CreateAccessKeyInput) (*keyring.CreateAccessKeyOutput, error) {
	out, id, err := k.createAccessKey(ctx, in)
	k.auditSync(ctx, keyring.AuditRecord{Op: "CreateAccessKey", KeyId: id}, err)
	return out, err
}

func (k *Keyring) createAccessKey(ctx context.Context, in *keyring.CreateAccessKeyInput) (*keyring.CreateAccessKeyOutput, string, error) {
	switch {
	case in.Name != "" && in.Role != "":
		return nil, "", fmt.Errorf("%w: give Name or Role, not both", keyring.ErrValidation)
	case in.Role != "":
		if err := validIAMName("Role", in.Role); err != nil {
			return nil, "", err
		}
	default:
		if err := validIAMName("Name", in.Name); err != nil {
			return nil, "", err
		}
	}
	if err := k.rootOnly(ctx, "CreateAccessKey"); err != nil {
		return nil, "", err
	}
	idRand, err := randomBytes(k.opts.Rand, accessKeyIDRandom)
	if err != nil {
		return nil, "", err
	}
	secretRand, err := randomBytes(k.opts.Rand, secretKeyRandom)
	if err != nil {
		return nil, "", err
	}
	defer zero(secretRand)
	id := newAccessKeyID(idRand)
	secret := []byte(base64.StdEncoding.EncodeToString(secretRand))
	rec := &accessKeyRecord{ID: id, UserName: in.Name, RoleName: in.Role, Status: keyring.AccessKeyActive, Created: k.now()}
	if err := k.storeNewAccessKey(rec, secret); err != nil {
		zero(secret)
		return nil, id, err
	}
	ak := k.accessKeyOut(rec)
	ak.SecretAccessKey = string(secret)
	return &keyring.CreateAccessKeyOutput{AccessKey: ak}, id, nil
}

func (k *Keyring) storeNewAccessKey(rec *accessKeyRecord, secret []byte) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	switch {
	case k.closed:
		return keyring.ErrClosed
	case len(k.accessKeys) >= maxAccessKeys:
		return fmt.Errorf("%w: at most %d access keys", keyring.ErrLimitExceeded, maxAccessKeys)
	case k.accessKeys[rec.ID] != nil:
		return fmt.Errorf("%w: access key ID collision", keyring.ErrInternal)
	}
	sealed, err := sealKEK(k.opts.Rand, k.kek, secret, accessKeyAAD(rec.ID))
	if err != nil {
		return err
	}
	rec.Sealed = sealed
	if err := k.db.Update(func(txn *badger.Txn) error { return putAccessKey(txn, k.recMAC, rec) }); err != nil {
		return fmt.Errorf("keyring: writing access key: %w", err)
	}
	k.accessKeys[rec.ID] = &accessKeyEntry{rec: rec, secret: secret}
	return nil
}

// ListAccessKeys lists every access key, sorted by ID, without secrets.
func (k *Keyring) ListAccessKeys(ctx context.Context, _ *keyring.ListAccessKeysInput) (*keyring.ListAccessKeysOutput, error) {
	if err := k.rootOnly(ctx, "ListAccessKeys"); err != nil {
		return nil, err
	}
	k.mu.RLock()
	defer k.mu.RUnlock()
	if k.closed {
		return nil, keyring.ErrClosed
	}
	out := &keyring.ListAccessKeysOutput{AccessKeyMetadata: []keyring.AccessKey{}}
	for _, a := range k.accessKeys {
		out.AccessKeyMetadata = append(out.AccessKeyMetadata, k.accessKeyOut(a.rec))
	}
	slices.SortFunc(out.AccessKeyMetadata, func(a, b keyring.AccessKey) int { return strings.Compare(a.AccessKeyId, b.AccessKeyId) })
	return out, nil
}

// DeleteAccessKey deletes an access key for good.
func (k *Keyring) DeleteAccessKey(ctx context.Context, in *keyring.AccessKeyIDInput) error {
	err := k.changeAccessKey(ctx, "DeleteAccessKey", in.AccessKeyId, func(txn *badger.Txn, a *accessKeyEntry) error {
		return txn.Delete(accessKeyDBKey(a.rec.ID))
	}, func(a *accessKeyEntry) {
		zero(a.secret)
		delete(k.accessKeys, a.rec.ID)
	})
	return err
}

// UpdateAccessKey makes an access key Active or Inactive; an Inactive key
// authenticates nothing.
func (k *Keyring) UpdateAccessKey(ctx context.Context, in *keyring.UpdateAccessKeyInput) error {
	if in.Status != keyring.AccessKeyActive && in.Status != keyring.AccessKeyInactive {
		err := fmt.Errorf("%w: Status %q (want Active or Inactive)", keyring.ErrValidation, truncate(in.Status))
		k.auditSync(ctx, keyring.AuditRecord{Op: "UpdateAccessKey", KeyId: truncate(in.AccessKeyId)}, err)
		return err
	}
	var rec *accessKeyRecord
	return k.changeAccessKey(ctx, "UpdateAccessKey", in.AccessKeyId, func(txn *badger.Txn, a *accessKeyEntry) error {
		c := *a.rec
		c.Status = in.Status
		rec = &c
		return putAccessKey(txn, k.recMAC, rec)
	}, func(a *accessKeyEntry) { a.rec = rec })
}

// changeAccessKey writes one change to an access key, then publishes it,
// under the exclusive lock, and audits op.
func (k *Keyring) changeAccessKey(ctx context.Context, op, id string, write func(*badger.Txn, *accessKeyEntry) error, publish func(*accessKeyEntry)) error {
	if err := k.rootOnly(ctx, op); err != nil {
		k.auditSync(ctx, keyring.AuditRecord{Op: op, KeyId: truncate(id)}, err)
		return err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return keyring.ErrClosed
	}
	a, ok := k.accessKeys[id]
	var err error
	if !ok {
		err = fmt.Errorf("%w: access key %q", keyring.ErrNotFound, truncate(id))
	} else if err = k.db.Update(func(txn *badger.Txn) error { return write(txn, a) }); err != nil {
		err = fmt.Errorf("keyring: writing access key %s: %w", id, err)
	} else {
		publish(a)
	}
	k.auditLocked(ctx, keyring.AuditRecord{Op: op, KeyId: truncate(id)}, err)
	return err
}

// LookupAccessKey returns an access key's secret (a copy: the caller zeroes
// it), the principal it acts as and whether it is Active, for a transport
// verifying a SigV4 signature. An unknown ID is [keyring.ErrNotFound]. It is
// not audited (the transport audits what it refuses) and never served on
// the wire.
func (k *Keyring) LookupAccessKey(_ context.Context, id string) ([]byte, keyring.Principal, bool, error) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	if k.closed {
		return nil, keyring.Principal{}, false, keyring.ErrClosed
	}
	a, ok := k.accessKeys[id]
	if !ok {
		return nil, keyring.Principal{}, false, fmt.Errorf("%w: access key %q", keyring.ErrNotFound, truncate(id))
	}
	return bytes.Clone(a.secret), k.principalOf(a.rec), a.rec.Status == keyring.AccessKeyActive, nil
}
