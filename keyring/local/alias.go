package local

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/kmsfs/kmsfs/keyring"
)

// CreateAlias points a new alias at a key (key ID or key ARN). An existing
// alias fails with [keyring.ErrAlreadyExists]; a key pending deletion with
// [keyring.ErrInvalidState].
func (k *Keyring) CreateAlias(ctx context.Context, in *keyring.AliasInput) error {
	return k.aliasOp(ctx, "CreateAlias", in, func(a *aliasRecord, exists bool) error {
		if exists {
			return fmt.Errorf("%w: alias %q", keyring.ErrAlreadyExists, in.AliasName)
		}
		a.Created = a.Updated
		return nil
	})
}

// UpdateAlias points an existing alias at another key.
func (k *Keyring) UpdateAlias(ctx context.Context, in *keyring.AliasInput) error {
	return k.aliasOp(ctx, "UpdateAlias", in, func(_ *aliasRecord, exists bool) error {
		if !exists {
			return notFound(in.AliasName)
		}
		return nil
	})
}

// aliasOp validates in, resolves its target and lets check decide from the
// existing record (if any) whether the write may go ahead.
func (k *Keyring) aliasOp(ctx context.Context, op string, in *keyring.AliasInput, check func(a *aliasRecord, exists bool) error) error {
	if err := validAliasName(in.AliasName); err != nil {
		return err
	}
	// AWS asks the key policy of the target key, and for UpdateAlias also
	// of the key the alias points to now.
	if err := k.authorize(ctx, authz{op: op, keyID: in.TargetKeyId}); err != nil {
		return err
	}
	if op == "UpdateAlias" {
		if err := k.authorize(ctx, authz{op: op, keyID: in.AliasName}); err != nil {
			return err
		}
	}
	now := k.now()
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return keyring.ErrClosed
	}
	keyID, err := k.writeAliasLocked(ctx, in, now, check)
	k.auditLocked(ctx, keyring.AuditRecord{Op: op, KeyId: keyID, Alias: in.AliasName}, err)
	return err
}

func (k *Keyring) writeAliasLocked(ctx context.Context, in *keyring.AliasInput, now time.Time, check func(*aliasRecord, bool) error) (keyID string, err error) {
	if in.TargetKeyId == "" {
		return "", fmt.Errorf("%w: TargetKeyId is required", keyring.ErrValidation)
	}
	if _, err := k.lookupKeyOnly(ctx, in.TargetKeyId); err != nil {
		return in.TargetKeyId, err
	}
	e, err := k.useLocked(ctx, in.TargetKeyId, now)
	if err != nil {
		return in.TargetKeyId, err
	}
	if pendingDeletion(e.rec) {
		return e.rec.ID.String(), pendingErr(e.rec)
	}
	old, exists := k.aliases[in.AliasName]
	if exists && old.Region != e.rec.Region {
		// One alias name per keyring: it names a key of another region.
		return e.rec.keyID(), fmt.Errorf("%w: alias %s is used in region %s", keyring.ErrAlreadyExists, in.AliasName, k.regionName(old.Region))
	}
	a := &aliasRecord{Name: in.AliasName, Target: e.rec.ID, Updated: now, Region: e.rec.Region}
	if exists {
		a.Created = old.Created
	}
	if err := check(a, exists); err != nil {
		return e.rec.ID.String(), err
	}
	err = k.db.Update(func(txn *badger.Txn) error { return putAlias(txn, k.recMAC, a) })
	if err != nil {
		return e.rec.ID.String(), fmt.Errorf("keyring: writing alias %q: %w", a.Name, err)
	}
	k.aliases[a.Name] = a
	return e.rec.ID.String(), nil
}

// DeleteAlias removes an alias; the key is unaffected.
func (k *Keyring) DeleteAlias(ctx context.Context, in *keyring.AliasInput) error {
	if err := validAliasName(in.AliasName); err != nil {
		return err
	}
	if err := k.authorize(ctx, authz{op: "DeleteAlias", keyID: in.AliasName}); err != nil {
		return err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return keyring.ErrClosed
	}
	ar := keyring.AuditRecord{Op: "DeleteAlias", Alias: in.AliasName}
	a, ok := k.aliases[in.AliasName]
	if !ok || a.Region != k.regionOf(ctx) {
		err := notFound(in.AliasName)
		k.auditLocked(ctx, ar, err)
		return err
	}
	ar.KeyId = a.Target.String()
	err := k.db.Update(func(txn *badger.Txn) error { return txn.Delete(aliasDBKey(a.Name)) })
	if err != nil {
		err = fmt.Errorf("keyring: deleting alias %q: %w", a.Name, err)
	} else {
		delete(k.aliases, a.Name)
	}
	k.auditLocked(ctx, ar, err)
	return err
}

// ListAliases lists aliases in name order, optionally only those of one
// key (named in any form).
func (k *Keyring) ListAliases(ctx context.Context, in *keyring.ListAliasesInput) (*keyring.ListAliasesOutput, error) {
	if _, err := k.purgeDue(ctx, k.now()); err != nil {
		return nil, err
	}
	k.mu.RLock()
	defer k.mu.RUnlock()
	if k.closed {
		return nil, keyring.ErrClosed
	}
	all, err := k.aliasesOf(ctx, in.KeyId)
	if err != nil {
		return nil, err
	}
	page, next, err := paginate(all, func(a *aliasRecord) string { return a.Name },
		func(m string) bool { return validAliasName(m) == nil }, in.Limit, in.Marker)
	if err != nil {
		return nil, err
	}
	out := &keyring.ListAliasesOutput{Aliases: []keyring.AliasListEntry{}, NextMarker: next, Truncated: next != ""}
	for _, a := range page {
		target := a.Target.String()
		if e := k.keys[keyRef{Region: a.Region, ID: a.Target}]; e != nil {
			target = e.rec.keyID()
		}
		out.Aliases = append(out.Aliases, keyring.AliasListEntry{AliasName: a.Name, AliasArn: k.arnPrefixIn(a.Region) + a.Name,
			TargetKeyId: target, CreationDate: keyring.EpochTime{Time: a.Created}, LastUpdatedDate: keyring.EpochTime{Time: a.Updated}})
	}
	return out, nil
}

// aliasesOf returns the aliases of keyID ("" for all), sorted by name.
func (k *Keyring) aliasesOf(ctx context.Context, keyID string) ([]*aliasRecord, error) {
	var all []*aliasRecord
	var filter *keyEntry
	region := k.regionOf(ctx)
	if keyID != "" {
		e, err := k.lookup(ctx, keyID)
		if err != nil {
			return nil, err
		}
		filter = e
	}
	for _, a := range k.aliases {
		if a.Region == region && (filter == nil || a.Target == filter.rec.ID) {
			all = append(all, a)
		}
	}
	slices.SortFunc(all, func(a, b *aliasRecord) int { return strings.Compare(a.Name, b.Name) })
	return all, nil
}
