package local

import (
	"bytes"
	"cmp"
	"context"
	"crypto/subtle"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/kmsfs/kmsfs/keyring"
)

// ExportKeyring seals every key (every version's material, its state with
// any deletion date, rotation settings, minimum decryption version, policy,
// tags and grants) and every alias into a bundle under in.Passphrase
// (FORMAT.md, "Keyring bundle"). Keys whose deletion date has passed are
// deleted first, as by any listing. The audit log and its key are not
// exported: an audit log stays with its keyring. Nor are access keys: they
// are this server's credentials, and a bundle is key material.
func (k *Keyring) ExportKeyring(ctx context.Context, in *keyring.ExportKeyringInput) (*keyring.ExportKeyringOutput, error) {
	out, err := k.exportKeyring(ctx, in)
	k.auditSync(ctx, keyring.AuditRecord{Op: "ExportKeyring"}, err)
	return out, err
}

func (k *Keyring) exportKeyring(ctx context.Context, in *keyring.ExportKeyringInput) (*keyring.ExportKeyringOutput, error) {
	kdf := in.KDF
	if kdf.IsZero() {
		kdf = DefaultKDF
	}
	if err := kdf.Validate(); err != nil {
		return nil, err
	}
	if kdf.MemoryKiB > maxBundleKDFMemoryKiB {
		return nil, fmt.Errorf("%w: argon2id memory %d KiB above the bundle limit %d", keyring.ErrValidation, kdf.MemoryKiB, maxBundleKDFMemoryKiB)
	}
	if len(in.Passphrase) == 0 {
		return nil, fmt.Errorf("%w: the bundle passphrase is empty", keyring.ErrValidation)
	}
	if err := k.checkPassphrase(in.KeyringPassphrase); err != nil {
		return nil, err
	}
	if _, err := k.purgeDue(ctx, k.now()); err != nil {
		return nil, err
	}
	p, err := k.snapshot()
	if err != nil {
		return nil, err
	}
	defer p.zero()
	b, err := sealBundle(k.opts.Rand, in.Passphrase, kdf, p)
	if err != nil {
		return nil, err
	}
	info := p.info()
	return &keyring.ExportKeyringOutput{Bundle: b, Keys: info.Keys, Versions: info.Versions, Aliases: info.Aliases}, nil
}

// snapshot copies every key and alias into a bundle payload, sorted.
func (k *Keyring) snapshot() (*bundlePayload, error) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	if k.closed {
		return nil, keyring.ErrClosed
	}
	// Format 4 only when something needs it, so that older kmsfs reads
	// the bundles of keyrings without regions.
	p := &bundlePayload{Format: bundlePayloadFormatV3, Created: k.now()}
	for _, e := range k.keys {
		p.Keys = append(p.Keys, bundleKeyOf(e))
		if e.rec.Region != "" || e.rec.MultiRegion != "" {
			p.Format = bundlePayloadFormat
		}
	}
	slices.SortFunc(p.Keys, func(a, b bundleKey) int {
		return cmp.Or(bytes.Compare(a.ID[:], b.ID[:]), cmp.Compare(a.Region, b.Region))
	})
	for _, a := range k.aliases {
		p.Aliases = append(p.Aliases, bundleAlias{Name: a.Name, Target: a.Target, Created: a.Created, Updated: a.Updated, Region: a.Region})
	}
	slices.SortFunc(p.Aliases, func(a, b bundleAlias) int { return cmp.Compare(a.Name, b.Name) })
	return p, nil
}

func bundleKeyOf(e *keyEntry) bundleKey {
	r := e.rec
	bk := bundleKey{ID: r.ID, Description: r.Description, Created: r.Created, State: r.State,
		PendingWindowDays: r.PendingWindowDays, RotationEnabled: r.RotationEnabled,
		RotationPeriodDays: r.RotationPeriodDays, RotationBase: r.RotationBase, MinDecrypt: r.MinDecrypt,
		Policy: r.Policy, Tags: slices.Clone(r.Tags), Grants: slices.Clone(r.Grants),
		KeySpec: r.KeySpec, KeyUsage: r.KeyUsage, Origin: r.Origin, ExpirationModel: r.ExpirationModel,
		Region: r.Region, MultiRegion: r.MultiRegion}
	if r.DeletionDate != nil {
		d := *r.DeletionDate
		bk.DeletionDate = &d
	}
	if r.ValidTo != nil {
		t := *r.ValidTo
		bk.ValidTo = &t
	}
	if r.Import != nil {
		bk.ImportDigest = bytes.Clone(r.Import.Digest)
	}
	for _, v := range r.Versions {
		bv := bundleVersion{Version: v.Version, Created: v.Created, RotationType: v.RotationType}
		if v.Sealed != nil { // destroyed versions leave the keyring for good
			bv.Material = bytes.Clone(e.material[v.Version])
			// Typed material stays sealed under the version key: its
			// AAD names the key, version and spec, never the KEK.
			bv.Typed = bytes.Clone(r.typedSealed(v.Version))
		}
		bk.Versions = append(bk.Versions, bv)
	}
	return bk
}

// ImportKeyring restores a bundle made by [Keyring.ExportKeyring] into this
// keyring, all or nothing, in one Badger transaction:
//
//   - a key that is not here is added as it was exported (state, deletion
//     date, rotation settings, minimum decryption version, versions); one
//     pending deletion past its date is skipped and reported as expired;
//   - a key that is here is the same key only if every version that has
//     material on both sides has the same material; then the versions it
//     lacks are added (merged) and its own metadata (policy, tags and
//     grants included) is kept. A version
//     destroyed here is not brought back. A different key with the same ID
//     fails the import with [keyring.ErrAlreadyExists], naming the key;
//   - an alias that is not here is added; one that points elsewhere here
//     fails the import with [keyring.ErrAlreadyExists] unless in.ReplaceAliases.
//
// A wrong keyring or bundle passphrase fails with [keyring.ErrWrongPassphrase] (the
// keyring's is checked first), an altered or malformed bundle with
// [keyring.ErrBundleCorrupt]. The keyring's own audit log is kept; the import is
// recorded in it.
func (k *Keyring) ImportKeyring(ctx context.Context, in *keyring.ImportKeyringInput) (*keyring.ImportKeyringOutput, error) {
	if err := k.checkPassphrase(in.KeyringPassphrase); err != nil {
		k.auditSync(ctx, keyring.AuditRecord{Op: "ImportKeyring"}, err)
		return nil, err
	}
	p, err := openBundle(in.Bundle, in.Passphrase)
	if err != nil {
		k.auditSync(ctx, keyring.AuditRecord{Op: "ImportKeyring"}, err)
		return nil, err
	}
	defer p.zero()
	if _, err := k.purgeDue(ctx, k.now()); err != nil {
		return nil, err
	}
	now := k.now()
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return nil, keyring.ErrClosed
	}
	plan, err := k.planImport(p, in.ReplaceAliases, now)
	if err == nil {
		err = k.commitImportLocked(plan)
	}
	if err != nil {
		plan.wipe()
		k.auditLocked(ctx, keyring.AuditRecord{Op: "ImportKeyring"}, err)
		return nil, err
	}
	k.auditImportLocked(ctx, plan)
	return &plan.out, nil
}

// importPlan is an import worked out in memory before anything is written.
type importPlan struct {
	entries []*keyEntry // new or merged, sealed under this keyring's KEK
	aliases []*aliasRecord
	fresh   [][]byte // material copied from the bundle, zeroed on failure
	out     keyring.ImportKeyringOutput
}

func (pl *importPlan) wipe() {
	if pl == nil {
		return
	}
	for _, m := range pl.fresh {
		zero(m)
	}
}

// planImport decides the fate of every key and alias of p without changing
// anything. The caller holds k.mu exclusively.
func (k *Keyring) planImport(p *bundlePayload, replaceAliases bool, now time.Time) (*importPlan, error) {
	pl := &importPlan{}
	expired := make(map[keyRef]bool)
	for i := range p.Keys {
		bk := &p.Keys[i]
		if err := k.planKey(pl, bk, now, expired); err != nil {
			pl.wipe()
			return nil, err
		}
	}
	for _, ba := range p.Aliases {
		if err := k.planAlias(pl, ba, replaceAliases, now, expired); err != nil {
			pl.wipe()
			return nil, err
		}
	}
	o := &pl.out
	for _, s := range [][]string{o.KeysAdded, o.KeysMerged, o.KeysUnchanged, o.KeysExpired,
		o.AliasesAdded, o.AliasesReplaced, o.AliasesUnchanged, o.AliasesSkipped} {
		slices.Sort(s)
	}
	return pl, nil
}

func (k *Keyring) planKey(pl *importPlan, bk *bundleKey, now time.Time, expired map[keyRef]bool) error {
	id := bk.ID.String()
	e, here := k.keys[keyRef{Region: bk.Region, ID: bk.ID}]
	switch {
	case !here && bk.State == keyring.StatePendingDeletion && !now.Before(*bk.DeletionDate):
		expired[keyRef{Region: bk.Region, ID: bk.ID}] = true
		pl.out.KeysExpired = append(pl.out.KeysExpired, id)
		return nil
	case !here:
		entry, err := k.entryFromBundle(pl, bk)
		if err != nil {
			return err
		}
		pl.entries = append(pl.entries, entry)
		pl.out.KeysAdded = append(pl.out.KeysAdded, id)
		pl.out.VersionsAdded += len(entry.material)
		return nil
	}
	if err := sameKey(e, bk); err != nil {
		return err
	}
	if bk.current() <= e.rec.current() {
		pl.out.KeysUnchanged = append(pl.out.KeysUnchanged, id)
		return nil
	}
	merged, added, err := k.mergeEntry(pl, e, bk)
	if err != nil {
		return err
	}
	pl.entries = append(pl.entries, merged)
	pl.out.KeysMerged = append(pl.out.KeysMerged, id)
	pl.out.VersionsAdded += added
	return nil
}

// sameKey refuses a bundle key that shares its ID with a different key
// here: some version with material on both sides must match, and none may
// differ.
func sameKey(e *keyEntry, bk *bundleKey) error {
	if e.rec.KeySpec != bk.KeySpec || e.rec.KeyUsage != bk.KeyUsage || e.rec.Origin != bk.Origin || e.rec.MultiRegion == "" != (bk.MultiRegion == "") {
		spec, usage, origin := specOf(e.rec)
		return fmt.Errorf("%w: key %s: the bundle holds a different key with this ID (%s %s origin %s here); nothing was imported",
			keyring.ErrAlreadyExists, bk.ID, spec, usage, origin)
	}
	compared := 0
	for _, v := range bk.Versions {
		mine, ok := e.material[v.Version]
		if !ok || v.Material == nil {
			continue
		}
		if subtle.ConstantTimeCompare(mine, v.Material) != 1 {
			return fmt.Errorf("%w: key %s: the bundle holds a different key with this ID (version %d differs); nothing was imported",
				keyring.ErrAlreadyExists, bk.ID, v.Version)
		}
		compared++
	}
	if compared == 0 && bk.current() > e.rec.current() {
		return fmt.Errorf("%w: key %s: no version has material both here and in the bundle, so it cannot be shown to be the same key; nothing was imported",
			keyring.ErrAlreadyExists, bk.ID)
	}
	return nil
}

// entryFromBundle builds a new key entry, sealing its versions under the KEK.
func (k *Keyring) entryFromBundle(pl *importPlan, bk *bundleKey) (*keyEntry, error) {
	rec := &keyRecord{Format: recordFormat, ID: bk.ID, Description: bk.Description, Created: bk.Created,
		State: bk.State, PendingWindowDays: bk.PendingWindowDays, RotationEnabled: bk.RotationEnabled,
		RotationPeriodDays: bk.RotationPeriodDays, RotationBase: bk.RotationBase, MinDecrypt: bk.MinDecrypt,
		Policy: bk.Policy, Tags: bk.Tags, Grants: bk.Grants,
		KeySpec: bk.KeySpec, KeyUsage: bk.KeyUsage, Origin: bk.Origin, ExpirationModel: bk.ExpirationModel,
		Region: bk.Region, MultiRegion: bk.MultiRegion}
	if bk.DeletionDate != nil {
		d := *bk.DeletionDate
		rec.DeletionDate = &d
	}
	if bk.ValidTo != nil {
		t := *bk.ValidTo
		rec.ValidTo = &t
	}
	if bk.ImportDigest != nil { // import parameters stay behind: fetch new ones
		rec.Import = &importState{Digest: bytes.Clone(bk.ImportDigest)}
	}
	e := &keyEntry{rec: rec, material: make(map[uint32][]byte)}
	_, err := k.appendVersions(pl, e, bk.Versions)
	return e, err
}

// mergeEntry returns a copy of e with the bundle's newer versions added.
func (k *Keyring) mergeEntry(pl *importPlan, e *keyEntry, bk *bundleKey) (*keyEntry, int, error) {
	m := &keyEntry{rec: e.rec.clone(), material: maps.Clone(e.material)}
	added, err := k.appendVersions(pl, m, bk.Versions[e.rec.current():])
	return m, added, err
}

// appendVersions seals versions under the KEK and appends them to e.
func (k *Keyring) appendVersions(pl *importPlan, e *keyEntry, versions []bundleVersion) (added int, err error) {
	for _, v := range versions {
		vr := versionRecord{Version: v.Version, Created: v.Created, RotationType: v.RotationType}
		if v.Material != nil {
			m := bytes.Clone(v.Material)
			pl.fresh = append(pl.fresh, m)
			if vr.Sealed, err = sealKEK(k.opts.Rand, k.kek, m, versionAAD(e.rec.ID, v.Version)); err != nil {
				return added, err
			}
			e.material[v.Version] = m
			added++
			if v.Typed != nil { // validated: opens under m (bundle.go)
				e.rec.setTyped(typedMaterial{Version: v.Version, Sealed: bytes.Clone(v.Typed)})
			}
		}
		e.rec.Versions = append(e.rec.Versions, vr)
	}
	return added, nil
}

func (k *Keyring) planAlias(pl *importPlan, ba bundleAlias, replace bool, now time.Time, expired map[keyRef]bool) error {
	cur, here := k.aliases[ba.Name]
	switch {
	case expired[keyRef{Region: ba.Region, ID: ba.Target}]:
		pl.out.AliasesSkipped = append(pl.out.AliasesSkipped, ba.Name)
	case !here:
		pl.aliases = append(pl.aliases, &aliasRecord{Name: ba.Name, Target: ba.Target, Created: ba.Created, Updated: ba.Updated, Region: ba.Region})
		pl.out.AliasesAdded = append(pl.out.AliasesAdded, ba.Name)
	case cur.Target == ba.Target && cur.Region == ba.Region:
		pl.out.AliasesUnchanged = append(pl.out.AliasesUnchanged, ba.Name)
	case !replace:
		return fmt.Errorf("%w: alias %s points to key %s here and to key %s in the bundle; nothing was imported (replace aliases to repoint it)",
			keyring.ErrAlreadyExists, ba.Name, cur.Target, ba.Target)
	default:
		pl.aliases = append(pl.aliases, &aliasRecord{Name: ba.Name, Target: ba.Target, Created: cur.Created, Updated: now, Region: ba.Region})
		pl.out.AliasesReplaced = append(pl.out.AliasesReplaced, ba.Name)
	}
	return nil
}

// commitImportLocked writes the plan in one transaction (synchronously),
// and only then publishes it in memory.
func (k *Keyring) commitImportLocked(pl *importPlan) error {
	if len(pl.entries) == 0 && len(pl.aliases) == 0 {
		return nil
	}
	err := k.db.Update(func(txn *badger.Txn) error {
		for _, e := range pl.entries {
			if err := k.putKey(txn, e.rec); err != nil {
				return err
			}
		}
		for _, a := range pl.aliases {
			if err := putAlias(txn, k.recMAC, a); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("keyring: writing the import: %w", err)
	}
	for _, e := range pl.entries {
		k.keys[e.rec.ref()] = e
		k.noteRegion(e.rec.Region)
	}
	for _, a := range pl.aliases {
		k.aliases[a.Name] = a
	}
	return nil
}

// auditImportLocked records every key and alias an import changed.
func (k *Keyring) auditImportLocked(ctx context.Context, pl *importPlan) {
	caller := keyring.CallerFrom(ctx)
	for _, e := range pl.entries {
		k.audit.append(keyring.AuditRecord{Op: "ImportKey", KeyId: e.rec.ID.String(), KeyVersion: e.rec.current(),
			Caller: caller, Outcome: outcomeSuccess})
	}
	for _, a := range pl.aliases {
		k.audit.append(keyring.AuditRecord{Op: "ImportAlias", KeyId: a.Target.String(), Alias: a.Name,
			Caller: caller, Outcome: outcomeSuccess})
	}
	k.auditLocked(ctx, keyring.AuditRecord{Op: "ImportKeyring"}, nil)
}

// auditSync records an operation synchronously without holding k.mu.
func (k *Keyring) auditSync(ctx context.Context, r keyring.AuditRecord, err error) {
	r.Caller, r.Outcome = keyring.CallerFrom(ctx), outcome(err)
	k.audit.appendSync(r)
}
