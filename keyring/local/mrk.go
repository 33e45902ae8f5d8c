package local

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/kmsfs/kmsfs/keyring"
)

// Regions and multi-Region keys.
//
// A request's region is its principal's (the SigV4 credential scope's),
// except that a region that holds no key of this keyring sees the
// keyring's default region ([Options.Region]), so that clients signing for
// us-east-1 against a keyring whose default is "local" keep working. A
// region holds keys once a replica is made into it (or a key is created
// there, which needs a replica first). Keys of one region are invisible
// from another, aliases included. A key made in the default region
// records that region's name (keyRecord.Home) and stays in it when a later
// Open has another default: it is then in a region like any other, and
// invisible from the new default. Records written before Home existed
// take the default of the Open that reads them until their next write.
//
// A multi-Region key (ID mrk-<32 hex>) is a set of records, one per
// region, with the same ID and the same version keys (sealed under the
// KEK with the same AAD, so a ciphertext made in one region opens with the
// record of another), each with its own policy, tags, grants, description
// and state. One is PRIMARY, the others REPLICA. Rotation is the
// primary's: a new version reaches every record of the set in the same
// transaction; replicas refuse rotation settings and report the primary's
// (rotationOf).
//
// A primary scheduled for deletion while it has replicas is
// PendingReplicaDeletion, without a DeletionDate; when its last replica is
// deleted it becomes PendingDeletion, its waiting period counted from that
// deletion (lastReplicaDeleted).

// validRegion accepts AWS-style region names: 1 to 32 of [a-z0-9-],
// starting with a letter.
func validRegion(r string) error {
	if r == "" || len(r) > 32 || r[0] < 'a' || r[0] > 'z' {
		return fmt.Errorf("%w: region %q", keyring.ErrValidation, truncate(r))
	}
	for _, c := range []byte(r) {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return fmt.Errorf("%w: region %q", keyring.ErrValidation, truncate(r))
		}
	}
	return nil
}

// internalRegion maps a region name to its internal form ("" for the
// default).
func (k *Keyring) internalRegion(name string) string {
	if name == k.opts.Region {
		return ""
	}
	return name
}

// regionOf returns the internal region of a request. The caller holds k.mu.
func (k *Keyring) regionOf(ctx context.Context) string {
	p, ok := keyring.PrincipalFrom(ctx)
	if !ok || p.Region == "" || p.Region == k.opts.Region || !k.regions[p.Region] {
		return ""
	}
	return p.Region
}

// loadedRegion is the internal region of a record read from disk: its
// Home, if it has one, else its Region.
func (k *Keyring) loadedRegion(rec *keyRecord) string {
	if rec.Home == "" {
		return rec.Region
	}
	return k.internalRegion(rec.Home)
}

// stamp names the default region in a record made there (or written
// before records named it), before the record is written (putKey).
func (k *Keyring) stamp(rec *keyRecord) {
	if rec.Region == "" && rec.Home == "" {
		rec.Home = k.opts.Region
	}
}

// putKey writes a key record under the keyring's record MAC key, stamped
// with its home region: every write of a record goes through it, so none
// can leave a default-region record to follow a later default.
func (k *Keyring) putKey(txn *badger.Txn, rec *keyRecord) error {
	k.stamp(rec)
	return putKey(txn, k.recMAC, rec)
}

// noteRegion records that region holds keys. The caller holds k.mu
// exclusively.
func (k *Keyring) noteRegion(region string) {
	if region != "" {
		k.regions[region] = true
	}
}

// setOf returns the records of a multi-Region key's set, in region order.
// The caller holds k.mu.
func (k *Keyring) setOf(rec *keyRecord) []*keyEntry {
	if rec.MultiRegion == "" {
		return nil
	}
	var out []*keyEntry
	for _, r := range append([]string{""}, slices.Sorted(maps.Keys(k.regions))...) {
		if e, ok := k.keys[keyRef{Region: r, ID: rec.ID}]; ok && e.rec.MultiRegion != "" {
			out = append(out, e)
		}
	}
	return out
}

// mrkConfig renders a record's MultiRegionConfiguration. The caller holds
// k.mu.
func (k *Keyring) mrkConfig(rec *keyRecord) *keyring.MultiRegionConfiguration {
	if rec.MultiRegion == "" {
		return nil
	}
	c := &keyring.MultiRegionConfiguration{MultiRegionKeyType: rec.MultiRegion, ReplicaKeys: []keyring.MultiRegionKey{}}
	for _, e := range k.setOf(rec) {
		r := e.rec
		if r.ref() == rec.ref() {
			r = rec // the caller's may be newer than the published one
		}
		mk := keyring.MultiRegionKey{Arn: k.keyARN(r), Region: k.regionName(r.Region)}
		if r.MultiRegion == keyring.MultiRegionPrimary {
			c.PrimaryKey = &mk
		} else {
			c.ReplicaKeys = append(c.ReplicaKeys, mk)
		}
	}
	slices.SortFunc(c.ReplicaKeys, func(a, b keyring.MultiRegionKey) int { return cmp.Compare(a.Region, b.Region) })
	return c
}

// ReplicateKey makes a replica of a multi-Region primary key in another
// region: the same ID and key material (every version), its own policy,
// tags, description and state.
func (k *Keyring) ReplicateKey(ctx context.Context, in *keyring.ReplicateKeyInput) (*keyring.ReplicateKeyOutput, error) {
	if err := validRegion(in.ReplicaRegion); err != nil {
		return nil, err
	}
	if len(in.Description) > maxDescription {
		return nil, fmt.Errorf("%w: Description longer than %d", keyring.ErrValidation, maxDescription)
	}
	for _, t := range in.Tags {
		if err := validTag(t); err != nil {
			return nil, err
		}
	}
	tags, err := mergeTags(nil, in.Tags)
	if err != nil {
		return nil, err
	}
	if in.Policy != "" {
		if err := checkPolicyShape(in.Policy); err != nil {
			return nil, err
		}
	}
	if err := k.authorize(ctx, authz{op: "ReplicateKey", keyID: in.KeyId}); err != nil {
		return nil, err
	}
	region := k.internalRegion(in.ReplicaRegion)
	if in.Policy != "" {
		// The ARN the replica will have; the ID is the primary's.
		arn, err := k.replicaARN(ctx, in.KeyId, region)
		if err != nil {
			return nil, err
		}
		if err := k.checkPolicy(ctx, in.Policy, arn, in.BypassPolicyLockoutSafetyCheck); err != nil {
			return nil, err
		}
	}
	now := k.now()
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return nil, keyring.ErrClosed
	}
	ar := keyring.AuditRecord{Op: "ReplicateKey", KeyId: in.KeyId}
	rec, err := k.replicateLocked(ctx, in, region, tags, now)
	if rec != nil {
		ar.KeyId, ar.KeyVersion = rec.keyID(), rec.current()
	}
	k.auditLocked(ctx, ar, err)
	if err != nil {
		return nil, err
	}
	return &keyring.ReplicateKeyOutput{ReplicaKeyMetadata: k.metadata(rec), ReplicaPolicy: rec.Policy,
		ReplicaTags: append([]keyring.Tag{}, rec.Tags...)}, nil
}

// arnOf is the ARN of the key keyID names.
func (k *Keyring) arnOf(ctx context.Context, keyID string) (string, error) {
	var arn string
	err := k.withKey(ctx, keyID, func(e *keyEntry) error {
		arn = k.keyARN(e.rec)
		return nil
	})
	return arn, err
}

// replicaARN is the ARN a replica of keyID in region would have.
func (k *Keyring) replicaARN(ctx context.Context, keyID, region string) (string, error) {
	var arn string
	err := k.withKey(ctx, keyID, func(e *keyEntry) error {
		r := *e.rec
		r.Region = region
		arn = k.keyARN(&r)
		return nil
	})
	return arn, err
}

func (k *Keyring) replicateLocked(ctx context.Context, in *keyring.ReplicateKeyInput, region string, tags []keyring.Tag, now time.Time) (*keyRecord, error) {
	e, err := k.useLocked(ctx, in.KeyId, now)
	if err != nil {
		return nil, err
	}
	p := e.rec
	switch {
	case p.MultiRegion == "":
		return nil, fmt.Errorf("%w: key %s is not a multi-Region key", keyring.ErrUnsupported, p.keyID())
	case p.MultiRegion != keyring.MultiRegionPrimary:
		return nil, fmt.Errorf("%w: key %s is a replica; replicate its primary key", keyring.ErrUnsupported, p.keyID())
	case pendingDeletion(p):
		return nil, pendingErr(p)
	case region == p.Region:
		return nil, fmt.Errorf("%w: ReplicaRegion %s is the primary key's region", keyring.ErrValidation, in.ReplicaRegion)
	}
	if _, ok := k.keys[keyRef{Region: region, ID: p.ID}]; ok {
		return nil, fmt.Errorf("%w: key %s already has a replica in %s", keyring.ErrAlreadyExists, p.keyID(), in.ReplicaRegion)
	}
	r := p.clone()
	r.Region, r.MultiRegion, r.Home = region, keyring.MultiRegionReplica, ""
	k.stamp(r)
	for _, m := range k.setOf(p) {
		// A primary made in a former default region is stored where a
		// replica into the current default would go.
		if string(keyDBKey(m.rec)) == string(keyDBKey(r)) {
			return nil, fmt.Errorf("%w: key %s was made in %s when it was the default region; replicas into the default region %s need another default",
				keyring.ErrUnsupported, p.keyID(), k.regionName(m.rec.Region), in.ReplicaRegion)
		}
	}
	r.Created, r.Description, r.Tags, r.Grants = now, in.Description, tags, nil
	r.Policy = cmp.Or(in.Policy, defaultPolicy(k.opts.Account))
	r.DeletionDate, r.PendingWindowDays = nil, 0
	if r.State != keyring.StateDisabled {
		r.State = keyring.StateEnabled
	}
	re := &keyEntry{rec: r, material: make(map[uint32][]byte, len(e.material))}
	for v, m := range e.material {
		re.material[v] = slices.Clone(m)
	}
	if err := k.persist(r); err != nil {
		re.zero()
		return nil, err
	}
	k.keys[r.ref()] = re
	k.noteRegion(region)
	return r, nil
}

// UpdatePrimaryRegion makes the replica in PrimaryRegion the primary key
// and the primary a replica, in one transaction.
func (k *Keyring) UpdatePrimaryRegion(ctx context.Context, in *keyring.UpdatePrimaryRegionInput) error {
	if err := validRegion(in.PrimaryRegion); err != nil {
		return err
	}
	if err := k.authorize(ctx, authz{op: "UpdatePrimaryRegion", keyID: in.KeyId}); err != nil {
		return err
	}
	now := k.now()
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return keyring.ErrClosed
	}
	ar := keyring.AuditRecord{Op: "UpdatePrimaryRegion", KeyId: in.KeyId}
	rec, err := k.updatePrimaryLocked(ctx, in, now)
	if rec != nil {
		ar.KeyId, ar.KeyVersion = rec.keyID(), rec.current()
	}
	k.auditLocked(ctx, ar, err)
	return err
}

func (k *Keyring) updatePrimaryLocked(ctx context.Context, in *keyring.UpdatePrimaryRegionInput, now time.Time) (*keyRecord, error) {
	e, err := k.useLocked(ctx, in.KeyId, now)
	if err != nil {
		return nil, err
	}
	switch {
	case e.rec.MultiRegion == "":
		return nil, fmt.Errorf("%w: key %s is not a multi-Region key", keyring.ErrUnsupported, e.rec.keyID())
	case e.rec.MultiRegion != keyring.MultiRegionPrimary:
		return nil, fmt.Errorf("%w: key %s is not the primary key", keyring.ErrUnsupported, e.rec.keyID())
	}
	region := k.internalRegion(in.PrimaryRegion)
	if region == e.rec.Region {
		return e.rec, nil // already the primary
	}
	te, ok := k.keys[keyRef{Region: region, ID: e.rec.ID}]
	if !ok {
		return nil, fmt.Errorf("%w: key %s has no replica in %s", keyring.ErrNotFound, e.rec.keyID(), in.PrimaryRegion)
	}
	if err := usable(e.rec); err != nil && pendingDeletion(e.rec) {
		return nil, err
	}
	if pendingDeletion(te.rec) {
		return nil, pendingErr(te.rec)
	}
	oldP, newP := e.rec.clone(), te.rec.clone()
	oldP.MultiRegion, newP.MultiRegion = keyring.MultiRegionReplica, keyring.MultiRegionPrimary
	newP.RotationEnabled, newP.RotationPeriodDays, newP.RotationBase = oldP.RotationEnabled, oldP.RotationPeriodDays, oldP.RotationBase
	err = k.db.Update(func(txn *badger.Txn) error {
		if err := k.putKey(txn, oldP); err != nil {
			return err
		}
		return k.putKey(txn, newP)
	})
	if err != nil {
		return nil, fmt.Errorf("keyring: writing key %s: %w", oldP.keyID(), err)
	}
	e.rec, te.rec = oldP, newP
	return oldP, nil
}

// replicasOf returns the replica entries of a primary key. The caller
// holds k.mu.
func (k *Keyring) replicasOf(rec *keyRecord) []*keyEntry {
	if rec.MultiRegion != keyring.MultiRegionPrimary {
		return nil
	}
	var out []*keyEntry
	for _, e := range k.setOf(rec) {
		if e.rec.MultiRegion == keyring.MultiRegionReplica {
			out = append(out, e)
		}
	}
	return out
}

// primaryOf returns the primary entry of rec's multi-Region set, or nil.
// The caller holds k.mu.
func (k *Keyring) primaryOf(rec *keyRecord) *keyEntry {
	for _, e := range k.setOf(rec) {
		if e.rec.MultiRegion == keyring.MultiRegionPrimary {
			return e
		}
	}
	return nil
}

// rotationOf is the record whose rotation settings rec reports: a
// replica's are its primary's, shared by the set as in AWS KMS.
// The caller holds k.mu.
func (k *Keyring) rotationOf(rec *keyRecord) *keyRecord {
	if rec.MultiRegion == keyring.MultiRegionReplica {
		if p := k.primaryOf(rec); p != nil {
			return p.rec
		}
	}
	return rec
}

// lastReplicaDeleted returns the primary of a replica about to be deleted
// and its next record, PendingDeletion, when the primary is
// PendingReplicaDeletion and rec is its last replica; nil otherwise. The
// primary's waiting period starts at the replica's deletion date, so it
// does not depend on when the lazy deletion runs. The caller holds k.mu
// exclusively.
func (k *Keyring) lastReplicaDeleted(rec *keyRecord) (*keyEntry, *keyRecord) {
	if rec.MultiRegion != keyring.MultiRegionReplica {
		return nil, nil
	}
	pe := k.primaryOf(rec)
	if pe == nil || pe.rec.State != keyring.StatePendingReplicaDeletion || len(k.replicasOf(pe.rec)) != 1 {
		return nil, nil
	}
	start := k.now()
	if rec.DeletionDate != nil {
		start = *rec.DeletionDate
	}
	p := pe.rec.clone()
	when := start.Add(time.Duration(p.PendingWindowDays) * day)
	p.State, p.DeletionDate = keyring.StatePendingDeletion, &when
	return pe, p
}

// notReplica refuses rotation settings on a replica: rotation is the
// primary key's, as in AWS.
func notReplica(rec *keyRecord) error {
	if rec.MultiRegion == keyring.MultiRegionReplica {
		return fmt.Errorf("%w: key %s is a multi-Region replica; rotation is managed on its primary key", keyring.ErrUnsupported, rec.keyID())
	}
	return nil
}

var _ keyring.Replicator = (*Keyring)(nil)
