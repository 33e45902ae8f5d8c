package local

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/google/uuid"
	"github.com/kmsfs/kmsfs/keyring"
	"github.com/kmsfs/kmsfs/keyring/keyspec"
)

// Deletion windows, as AWS KMS.
const (
	minDeletionDays     = 7
	maxDeletionDays     = 30
	defaultDeletionDays = 30
	maxDescription      = 8192
	day                 = 24 * time.Hour
)

// CreateKey creates a key of any KeySpec and KeyUsage keyspec has, with one
// version (with Origin EXTERNAL, one without material: PendingImport). The key is durable
// (committed with a synchronous write) before CreateKey returns, and only
// then visible to other operations.
func (k *Keyring) CreateKey(ctx context.Context, in *keyring.CreateKeyInput) (*keyring.KeyMetadataOutput, error) {
	if err := validateCreate(in); err != nil {
		return nil, err
	}
	now := k.now()
	var id uuid.UUID
	var err error
	if in.MultiRegion {
		_, err = io.ReadFull(k.opts.Rand, id[:]) // mrk-<32 hex>: no UUID version bits
	} else {
		id, err = uuid.NewRandomFromReader(k.opts.Rand)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: reading random key ID: %w", keyring.ErrInternal, err)
	}
	rec := &keyRecord{Format: recordFormat, ID: id, Description: in.Description, Created: now, State: keyring.StateEnabled, MinDecrypt: 1}
	if in.MultiRegion {
		rec.MultiRegion = keyring.MultiRegionPrimary
	}
	k.mu.RLock()
	rec.Region = k.regionOf(ctx)
	k.mu.RUnlock()
	if in.Policy != "" {
		if err := k.checkPolicy(ctx, in.Policy, k.keyARN(rec), in.BypassPolicyLockoutSafetyCheck); err != nil {
			return nil, err
		}
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return nil, keyring.ErrClosed
	}
	tags, _ := mergeTags(nil, in.Tags) // validateCreate checked them
	rec.Policy, rec.Tags = cmp.Or(in.Policy, defaultPolicy(k.opts.Account)), tags
	setKeyType(rec, in)
	e := &keyEntry{rec: rec, material: make(map[uint32][]byte)}
	if err := k.addFirstVersionLocked(ctx, e, now); err != nil {
		return nil, err
	}
	k.auditLocked(ctx, keyring.AuditRecord{Op: "CreateKey", KeyId: rec.keyID(), KeyVersion: 1}, nil)
	return &keyring.KeyMetadataOutput{KeyMetadata: k.metadata(e.rec)}, nil
}

// Origins AWS accepts for CreateKey (botocore's enum) that this keyring
// does not implement: asking for one is an unsupported operation, any
// other value a validation error, as with AWS. KeySpec and KeyUsage are
// keyspec.CheckKeySpec's.
var (
	otherOrigins = []string{"AWS_CLOUDHSM", "EXTERNAL_KEY_STORE"}
)

func validateCreate(in *keyring.CreateKeyInput) error {
	if in.KeySpec != "" && in.CustomerMasterKeySpec != "" && in.KeySpec != in.CustomerMasterKeySpec {
		return fmt.Errorf("%w: KeySpec and CustomerMasterKeySpec differ", keyring.ErrValidation)
	}
	spec := cmp.Or(in.KeySpec, in.CustomerMasterKeySpec)
	_, err := keyspec.CheckKeySpec(spec, in.KeyUsage)
	err = cmp.Or(err, checkOrigin(in.Origin))
	switch {
	case err != nil:
		return err
	case in.MultiRegion && in.Origin == keyring.OriginExternal:
		return fmt.Errorf("%w: multi-Region keys with imported key material", keyring.ErrUnsupported)
	case in.CustomKeyStoreId != "" || in.XksKeyId != "":
		return fmt.Errorf("%w: custom key stores", keyring.ErrUnsupported)
	case len(in.Description) > maxDescription:
		return fmt.Errorf("%w: Description longer than %d", keyring.ErrValidation, maxDescription)
	case in.Policy != "":
		if err := checkPolicyShape(in.Policy); err != nil {
			return err
		}
	}
	for _, t := range in.Tags {
		if err := validTag(t); err != nil {
			return err
		}
	}
	if _, err := mergeTags(nil, in.Tags); err != nil {
		return err
	}
	return nil
}

// checkOrigin accepts "", AWS_KMS and EXTERNAL, refuses AWS's other
// origins as unsupported and anything else as invalid.
func checkOrigin(v string) error {
	switch {
	case v == "" || v == keyring.OriginAWSKMS || v == keyring.OriginExternal:
		return nil
	case slices.Contains(otherOrigins, v):
		return fmt.Errorf("%w: Origin %s (only %s or %s)", keyring.ErrUnsupported, v, keyring.OriginAWSKMS, keyring.OriginExternal)
	}
	return fmt.Errorf("%w: Origin %q is not a valid value", keyring.ErrValidation, truncate(v))
}

// addVersionLocked adds a new version with fresh material to e (a new key
// when e.rec.Versions is empty). It commits the record with a synchronous
// write first and only then publishes it in k.keys, so no wrap can ever use
// a version that is not on disk. The caller holds k.mu exclusively.
func (k *Keyring) addVersionLocked(_ context.Context, e *keyEntry, now time.Time, rotationType string) error {
	rec := e.rec.clone()
	version := uint32(1)
	if len(rec.Versions) > 0 {
		version = rec.current() + 1
	}
	material := make([]byte, materialSize)
	if _, err := io.ReadFull(k.opts.Rand, material); err != nil {
		return fmt.Errorf("%w: reading random key material: %w", keyring.ErrInternal, err)
	}
	sealed, err := sealKEK(k.opts.Rand, k.kek, material, versionAAD(rec.ID, version))
	if err == nil {
		err = k.newTypedMaterial(rec, version, material)
	}
	if err != nil {
		zero(material)
		return err
	}
	rec.Versions = append(rec.Versions, versionRecord{Version: version, Created: now, RotationType: rotationType, Sealed: sealed})
	if rotationType == rotationAutomatic {
		rec.RotationBase = now
	}
	// A multi-Region primary's new version reaches every replica (mrk.go).
	replicas := k.replicasOf(e.rec)
	recs := []*keyRecord{rec}
	for _, re := range replicas {
		r := re.rec.clone()
		r.Versions = append(r.Versions, rec.Versions[len(rec.Versions)-1])
		r.Typed = slices.Clone(rec.Typed)
		r.RotationBase = rec.RotationBase
		recs = append(recs, r)
	}
	// 1. Durable first.
	if err := k.persistAll(recs); err != nil {
		zero(material)
		return err
	}
	// 2. Then visible.
	e.rec = rec
	e.material[version] = material
	k.keys[rec.ref()] = e
	k.noteRegion(rec.Region)
	for i, re := range replicas {
		re.rec = recs[i+1]
		re.material[version] = slices.Clone(material)
		re.dropTyped()
	}
	return nil
}

// persistAll commits key records in one transaction.
func (k *Keyring) persistAll(recs []*keyRecord) error {
	if len(recs) == 1 {
		return k.persist(recs[0])
	}
	err := k.db.Update(func(txn *badger.Txn) error {
		for _, rec := range recs {
			if err := k.putKey(txn, rec); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("keyring: writing key %s: %w", recs[0].keyID(), err)
	}
	return nil
}

// persist commits one key record; SyncWrites makes the commit durable.
func (k *Keyring) persist(rec *keyRecord) error {
	err := k.db.Update(func(txn *badger.Txn) error { return k.putKey(txn, rec) })
	if err != nil {
		return fmt.Errorf("keyring: writing key %s: %w", rec.ID, err)
	}
	return nil
}

// metadata renders a record as AWS KeyMetadata.
func (k *Keyring) metadata(rec *keyRecord) keyring.KeyMetadata {
	m := keyring.KeyMetadata{
		AWSAccountId:             k.opts.Account,
		KeyId:                    rec.keyID(),
		Arn:                      k.keyARN(rec),
		CreationDate:             keyring.EpochTime{Time: rec.Created},
		Enabled:                  rec.State == keyring.StateEnabled,
		Description:              rec.Description,
		KeyState:                 rec.State,
		KeyManager:               keyManagerCustomer,
		CurrentKeyVersion:        rec.current(),
		MinimumDecryptionVersion: rec.MinDecrypt,
	}
	typedMetadata(&m, rec)
	m.MultiRegion = rec.MultiRegion != ""
	m.MultiRegionConfiguration = k.mrkConfig(rec)
	switch {
	case rec.State == keyring.StatePendingDeletion && rec.DeletionDate != nil:
		m.DeletionDate = &keyring.EpochTime{Time: *rec.DeletionDate}
		m.PendingDeletionWindowInDays = rec.PendingWindowDays
	case rec.State == keyring.StatePendingReplicaDeletion:
		// AWS: the waiting period, which starts when the last replica
		// is deleted; no DeletionDate yet.
		m.PendingDeletionWindowInDays = rec.PendingWindowDays
	}
	return m
}

// DescribeKey returns a key's metadata, in any state.
func (k *Keyring) DescribeKey(ctx context.Context, in *keyring.KeyIDInput) (*keyring.KeyMetadataOutput, error) {
	var out *keyring.KeyMetadataOutput
	err := k.readKey(ctx, "DescribeKey", in.KeyId, func(e *keyEntry) error {
		out = &keyring.KeyMetadataOutput{KeyMetadata: k.metadata(e.rec)}
		return nil
	})
	return out, err
}

// ListKeys lists keys in key ID order, including keys pending deletion.
func (k *Keyring) ListKeys(ctx context.Context, in *keyring.ListInput) (*keyring.ListKeysOutput, error) {
	if _, err := k.purgeDue(ctx, k.now()); err != nil {
		return nil, err
	}
	k.mu.RLock()
	defer k.mu.RUnlock()
	if k.closed {
		return nil, keyring.ErrClosed
	}
	region := k.regionOf(ctx)
	recs := make([]*keyRecord, 0, len(k.keys))
	for ref, e := range k.keys {
		if ref.Region == region {
			recs = append(recs, e.rec)
		}
	}
	slices.SortFunc(recs, func(a, b *keyRecord) int { return cmp.Compare(a.keyID(), b.keyID()) })
	page, next, err := paginate(recs, (*keyRecord).keyID, validKeyMarker, in.Limit, in.Marker)
	if err != nil {
		return nil, err
	}
	out := &keyring.ListKeysOutput{Keys: []keyring.KeyListEntry{}, NextMarker: next, Truncated: next != ""}
	for _, r := range page {
		out.Keys = append(out.Keys, keyring.KeyListEntry{KeyId: r.keyID(), KeyArn: k.keyARN(r)})
	}
	return out, nil
}

// EnableKey makes a Disabled key usable; enabling an Enabled key is a
// no-op, and a key pending deletion must first be cancelled.
func (k *Keyring) EnableKey(ctx context.Context, in *keyring.KeyIDInput) error {
	_, err := k.mutate(ctx, "EnableKey", in.KeyId, func(rec *keyRecord, _ time.Time) error {
		if pendingDeletion(rec) || rec.State == keyring.StatePendingImport {
			return usable(rec)
		}
		rec.State = keyring.StateEnabled
		return nil
	})
	return err
}

// DisableKey makes a key refuse every cryptographic operation.
func (k *Keyring) DisableKey(ctx context.Context, in *keyring.KeyIDInput) error {
	_, err := k.mutate(ctx, "DisableKey", in.KeyId, func(rec *keyRecord, _ time.Time) error {
		if pendingDeletion(rec) || rec.State == keyring.StatePendingImport {
			return usable(rec)
		}
		rec.State = keyring.StateDisabled
		return nil
	})
	return err
}

// ScheduleKeyDeletion puts a key in PendingDeletion for 7 to 30 days
// (default 30). After DeletionDate the key and its material are deleted
// for good, lazily: on Open, on the next use, or in [Keyring.RotateDue].
// A multi-Region primary key that has replicas goes to
// PendingReplicaDeletion instead, without a DeletionDate: its waiting
// period starts when the last replica is deleted (replicaDeleted), as in
// AWS KMS.
func (k *Keyring) ScheduleKeyDeletion(ctx context.Context, in *keyring.ScheduleKeyDeletionInput) (*keyring.ScheduleKeyDeletionOutput, error) {
	days := in.PendingWindowInDays
	if days == 0 {
		days = defaultDeletionDays
	}
	if days < minDeletionDays || days > maxDeletionDays {
		return nil, fmt.Errorf("%w: PendingWindowInDays %d not in %d..%d", keyring.ErrValidation, days, minDeletionDays, maxDeletionDays)
	}
	rec, err := k.mutate(ctx, "ScheduleKeyDeletion", in.KeyId, func(rec *keyRecord, now time.Time) error {
		if pendingDeletion(rec) {
			return pendingErr(rec)
		}
		if len(k.replicasOf(rec)) > 0 {
			rec.State, rec.DeletionDate, rec.PendingWindowDays = keyring.StatePendingReplicaDeletion, nil, days
			return nil
		}
		when := now.Add(time.Duration(days) * day)
		rec.State, rec.DeletionDate, rec.PendingWindowDays = keyring.StatePendingDeletion, &when, days
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := &keyring.ScheduleKeyDeletionOutput{KeyId: k.keyARN(rec), KeyState: rec.State, PendingWindowInDays: days}
	if rec.DeletionDate != nil {
		out.DeletionDate = keyring.EpochTime{Time: *rec.DeletionDate}
	}
	return out, nil
}

// CancelKeyDeletion stops a scheduled deletion (PendingDeletion or
// PendingReplicaDeletion); as in AWS KMS the key is then Disabled, not
// Enabled, or PendingImport when it has no imported material (it was
// scheduled before any import).
func (k *Keyring) CancelKeyDeletion(ctx context.Context, in *keyring.KeyIDInput) (*keyring.CancelKeyDeletionOutput, error) {
	rec, err := k.mutate(ctx, "CancelKeyDeletion", in.KeyId, func(rec *keyRecord, _ time.Time) error {
		if !pendingDeletion(rec) {
			return fmt.Errorf("%w: key %s is not pending deletion", keyring.ErrInvalidState, rec.ID)
		}
		rec.State, rec.DeletionDate, rec.PendingWindowDays = keyring.StateDisabled, nil, 0
		if _, _, origin := specOf(rec); origin == keyring.OriginExternal && !hasImported(rec) {
			// Disabled would let EnableKey make it Enabled without material.
			rec.State = keyring.StatePendingImport
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &keyring.CancelKeyDeletionOutput{KeyId: k.keyARN(rec)}, nil
}

func pendingErr(rec *keyRecord) error {
	return fmt.Errorf("%w: key %s is pending deletion", keyring.ErrInvalidState, rec.ID)
}

// hasImported says whether an EXTERNAL key's current version has
// material.
func hasImported(rec *keyRecord) bool {
	return len(rec.Versions) > 0 && rec.Versions[len(rec.Versions)-1].Sealed != nil
}

// pendingDeletion says whether a key is scheduled for deletion:
// PendingDeletion, or PendingReplicaDeletion, which AWS's key state table
// treats the same way.
func pendingDeletion(rec *keyRecord) bool {
	return rec.State == keyring.StatePendingDeletion || rec.State == keyring.StatePendingReplicaDeletion
}

// usable is the state check of every cryptographic operation.
func usable(rec *keyRecord) error {
	switch rec.State {
	case keyring.StateEnabled:
		return nil
	case keyring.StateDisabled:
		return fmt.Errorf("%w: key %s", keyring.ErrDisabled, rec.ID)
	case keyring.StatePendingDeletion, keyring.StatePendingReplicaDeletion:
		return pendingErr(rec)
	case keyring.StatePendingImport:
		return fmt.Errorf("%w: key %s is pending import", keyring.ErrInvalidState, rec.ID)
	}
	return fmt.Errorf("%w: key %s in unknown state %q", keyring.ErrInvalidState, rec.ID, rec.State)
}

// mutate applies fn to a copy of a key's record, persists it and then
// publishes it, holding k.mu exclusively throughout. It audits op.
func (k *Keyring) mutate(ctx context.Context, op, keyID string, fn func(rec *keyRecord, now time.Time) error) (*keyRecord, error) {
	return k.mutateThen(ctx, op, keyID, fn, nil)
}

// mutateThen is mutate that also runs published (if not nil) on the entry
// right after the record is published, still under the exclusive lock.
func (k *Keyring) mutateThen(ctx context.Context, op, keyID string, fn func(rec *keyRecord, now time.Time) error, published func(e *keyEntry)) (*keyRecord, error) {
	return k.mutateAuthz(ctx, authz{op: op, keyID: keyID}, fn, published)
}

// mutateAs is mutate with an authorization question of its own.
func (k *Keyring) mutateAs(ctx context.Context, z authz, fn func(rec *keyRecord, now time.Time) error) (*keyRecord, error) {
	return k.mutateAuthz(ctx, z, fn, nil)
}

// mutateAuthz asks z (authz.go) first, unless z.noAuthz.
func (k *Keyring) mutateAuthz(ctx context.Context, z authz, fn func(rec *keyRecord, now time.Time) error, published func(e *keyEntry)) (*keyRecord, error) {
	if !z.noAuthz {
		if err := k.authorize(ctx, z); err != nil {
			return nil, err
		}
	}
	op, keyID := z.op, z.keyID
	now := k.now()
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return nil, keyring.ErrClosed
	}
	rec, err := k.mutateLocked(ctx, keyID, now, fn, published)
	ar := keyring.AuditRecord{Op: op, KeyId: keyID}
	if rec != nil {
		ar.KeyId, ar.KeyVersion = rec.keyID(), rec.current()
	}
	k.auditLocked(ctx, ar, err)
	return rec, err
}

func (k *Keyring) mutateLocked(ctx context.Context, keyID string, now time.Time, fn func(*keyRecord, time.Time) error, published func(*keyEntry)) (*keyRecord, error) {
	e, err := k.useLocked(ctx, keyID, now)
	if err != nil {
		return nil, err
	}
	rec := e.rec.clone()
	if err := fn(rec, now); err != nil {
		return nil, err
	}
	if err := k.persist(rec); err != nil {
		return nil, err
	}
	e.rec = rec
	if published != nil {
		published(e)
	}
	return rec, nil
}

// useLocked resolves keyID and first applies any due deletion or automatic
// rotation. The caller holds k.mu exclusively.
func (k *Keyring) useLocked(ctx context.Context, keyID string, now time.Time) (*keyEntry, error) {
	e, err := k.lookup(ctx, keyID)
	if err != nil {
		return nil, err
	}
	if _, err := k.applyDueLocked(ctx, e, now); err != nil {
		return nil, err
	}
	if k.keys[e.rec.ref()] == nil {
		return nil, notFound(keyID)
	}
	return e, nil
}

// withKey runs fn on a key with k.mu held shared: the hot path of the
// cryptographic operations. When the key has due work (deletion or
// automatic rotation) it is done first under the exclusive lock.
func (k *Keyring) withKey(ctx context.Context, keyID string, fn func(e *keyEntry) error) error {
	now := k.now()
	k.mu.RLock()
	if k.closed {
		k.mu.RUnlock()
		return keyring.ErrClosed
	}
	e, err := k.lookup(ctx, keyID)
	if err == nil && k.due(e, now) {
		k.mu.RUnlock()
		if err := k.runDue(e.rec.ref(), now); err != nil {
			return err
		}
		k.mu.RLock()
		if k.closed {
			k.mu.RUnlock()
			return keyring.ErrClosed
		}
		e, err = k.lookup(ctx, keyID)
	}
	defer k.mu.RUnlock()
	if err != nil {
		return err
	}
	return fn(e)
}

// due reports whether e has a deletion or automatic rotation to apply.
func (e *keyEntry) due(now time.Time) bool {
	r := e.rec
	if r.State == keyring.StatePendingDeletion {
		return r.DeletionDate != nil && !now.Before(*r.DeletionDate)
	}
	if materialExpired(r, now) {
		return true
	}
	return r.State == keyring.StateEnabled && r.RotationEnabled && r.MultiRegion != keyring.MultiRegionReplica &&
		!now.Before(r.nextRotation())
}

// due is e.due for e or, for a multi-Region key, any record of its set:
// a replica's due deletion changes its primary's MultiRegionConfiguration,
// and may start a waiting primary's own waiting period. The caller holds
// k.mu.
func (k *Keyring) due(e *keyEntry, now time.Time) bool {
	if e.due(now) {
		return true
	}
	for _, m := range k.setOf(e.rec) {
		if m.due(now) {
			return true
		}
	}
	return false
}

func (r *keyRecord) nextRotation() time.Time {
	return r.RotationBase.Add(time.Duration(r.RotationPeriodDays) * day)
}

// runDue applies due work to one key under the exclusive lock.
func (k *Keyring) runDue(id keyRef, now time.Time) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return keyring.ErrClosed
	}
	e, ok := k.keys[id]
	if !ok {
		return nil
	}
	_, err := k.applyDueLocked(context.Background(), e, now)
	return err
}

// applyDueLocked applies due work to e or, for a multi-Region key, to
// every record of its set, deletions in date order so that a primary
// waiting for its replicas counts its waiting period from the last one's
// deletion (lastReplicaDeleted). It returns the number of automatic
// rotations it made.
func (k *Keyring) applyDueLocked(ctx context.Context, e *keyEntry, now time.Time) (rotated int, err error) {
	set := k.setOf(e.rec)
	if len(set) == 0 {
		set = []*keyEntry{e}
	}
	// Records without a deletion date (a waiting primary) go last.
	slices.SortStableFunc(set, func(a, b *keyEntry) int {
		da, db := a.rec.DeletionDate, b.rec.DeletionDate
		if da == nil || db == nil {
			return cmp.Compare(boolInt(da == nil), boolInt(db == nil))
		}
		return da.Compare(*db)
	})
	for _, m := range set {
		r, err := k.applyOwnDueLocked(ctx, m, now)
		if r {
			rotated++
		}
		if err != nil {
			return rotated, err
		}
	}
	return rotated, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// applyOwnDueLocked deletes e if its deletion date has passed, or rotates it
// if automatic rotation is due, and says whether it rotated.
func (k *Keyring) applyOwnDueLocked(ctx context.Context, e *keyEntry, now time.Time) (rotated bool, err error) {
	switch {
	case !e.due(now):
		return false, nil
	case e.rec.State == keyring.StatePendingDeletion:
		return false, k.deleteLocked(ctx, e)
	case materialExpired(e.rec, now):
		return false, k.expireLocked(ctx, e)
	}
	err = k.addVersionLocked(ctx, e, now, rotationAutomatic)
	k.auditLocked(ctx, keyring.AuditRecord{Op: "RotateKey", KeyId: e.rec.keyID(), KeyVersion: e.rec.current()}, err)
	return err == nil, err
}

// deleteLocked deletes a key, its sealed material and the aliases that
// point to it, in one transaction.
func (k *Keyring) deleteLocked(ctx context.Context, e *keyEntry) error {
	id, ref := e.rec.ID, e.rec.ref()
	pe, primary := k.lastReplicaDeleted(e.rec)
	var names []string
	for name, a := range k.aliases {
		if a.Target == id && a.Region == ref.Region {
			names = append(names, name)
		}
	}
	err := k.db.Update(func(txn *badger.Txn) error {
		for _, name := range names {
			if err := txn.Delete(aliasDBKey(name)); err != nil {
				return err
			}
		}
		if primary != nil {
			if err := k.putKey(txn, primary); err != nil {
				return err
			}
		}
		return txn.Delete(keyDBKey(e.rec))
	})
	if err != nil {
		err = fmt.Errorf("keyring: deleting key %s: %w", id, err)
	} else {
		for _, name := range names {
			delete(k.aliases, name)
		}
		delete(k.keys, ref)
		e.zero()
		if primary != nil {
			pe.rec = primary
		}
	}
	k.auditLocked(ctx, keyring.AuditRecord{Op: "DeleteKey", KeyId: e.rec.keyID()}, err)
	return err
}

// purgeDue applies due deletions and rotations to every key. It returns the
// number of automatic rotations.
func (k *Keyring) purgeDue(ctx context.Context, now time.Time) (rotated int, err error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return 0, keyring.ErrClosed
	}
	for _, e := range k.keys {
		if !k.due(e, now) {
			continue
		}
		n, err := k.applyDueLocked(ctx, e, now)
		rotated += n
		if err != nil {
			return rotated, err
		}
	}
	return rotated, nil
}

// paginate returns the page of items starting at marker (the sort key of
// the first item of the page, as returned in NextMarker) and the marker of
// the next page, or "" when this is the last. items are sorted by key. A
// marker that valid refuses was never a NextMarker: [keyring.ErrInvalidMarker]. One
// that is valid but names an item gone since starts at the next item.
func paginate[T any](items []T, key func(T) string, valid func(string) bool, limit int, marker string) (page []T, next string, err error) {
	if limit == 0 {
		limit = 100
	}
	if limit < 1 || limit > 1000 {
		return nil, "", fmt.Errorf("%w: Limit %d not in 1..1000", keyring.ErrValidation, limit)
	}
	if marker != "" && !valid(marker) {
		return nil, "", fmt.Errorf("%w: %q", keyring.ErrInvalidMarker, truncate(marker))
	}
	start := 0
	if marker != "" {
		start, _ = slices.BinarySearchFunc(items, marker, func(it T, m string) int {
			return cmp.Compare(key(it), m)
		})
	}
	end := min(start+limit, len(items))
	if end < len(items) {
		next = key(items[end])
	}
	return items[start:end], next, nil
}

// validKeyMarker accepts a key ID as ListKeys returns it.
func validKeyMarker(m string) bool {
	if keyring.IsMultiRegionKeyID(m) {
		return true
	}
	u, ok := parseKeyID(m)
	return ok && u.String() == m
}
