package local

import (
	"context"
	"fmt"
	"time"

	"github.com/kmsfs/kmsfs/keyring"
)

// Rotation periods, as AWS KMS.
const (
	minRotationDays     = 90
	maxRotationDays     = 2560
	defaultRotationDays = 365
)

// EnableKeyRotation turns on automatic rotation every RotationPeriodInDays
// (90 to 2560, default 365) counted from now. Re-enabling an enabled key
// only changes the period. Due rotations happen lazily, on the next use of
// the key or in [Keyring.RotateDue].
func (k *Keyring) EnableKeyRotation(ctx context.Context, in *keyring.EnableKeyRotationInput) error {
	days := in.RotationPeriodInDays
	if days == 0 {
		days = defaultRotationDays
	}
	if days < minRotationDays || days > maxRotationDays {
		return fmt.Errorf("%w: RotationPeriodInDays %d not in %d..%d", keyring.ErrValidation, days, minRotationDays, maxRotationDays)
	}
	_, err := k.mutate(ctx, "EnableKeyRotation", in.KeyId, func(rec *keyRecord, now time.Time) error {
		// Unsupported first: AWS refuses a key with imported material,
		// PendingImport included, with UnsupportedOperationException.
		if err := checkRotation(rec); err != nil {
			return err
		}
		if err := usable(rec); err != nil {
			return err
		}
		if !rec.RotationEnabled {
			rec.RotationEnabled, rec.RotationBase = true, now
		}
		rec.RotationPeriodDays = days
		return nil
	})
	return err
}

// DisableKeyRotation turns off automatic rotation. Keys that cannot
// rotate automatically refuse it, as they refuse EnableKeyRotation.
func (k *Keyring) DisableKeyRotation(ctx context.Context, in *keyring.KeyIDInput) error {
	_, err := k.mutate(ctx, "DisableKeyRotation", in.KeyId, func(rec *keyRecord, _ time.Time) error {
		// As EnableKeyRotation: AWS refuses asymmetric, HMAC and
		// imported keys and replicas (UnsupportedOperationException)
		// before it looks at the key state.
		if err := checkRotation(rec); err != nil {
			return err
		}
		if err := usable(rec); err != nil {
			return err
		}
		rec.RotationEnabled, rec.RotationPeriodDays, rec.RotationBase = false, 0, time.Time{}
		return nil
	})
	return err
}

// GetKeyRotationStatus reports automatic rotation, in any key state; a
// multi-Region replica reports its primary's, which the set shares.
func (k *Keyring) GetKeyRotationStatus(ctx context.Context, in *keyring.KeyIDInput) (*keyring.GetKeyRotationStatusOutput, error) {
	var out *keyring.GetKeyRotationStatusOutput
	err := k.readKey(ctx, "GetKeyRotationStatus", in.KeyId, func(e *keyEntry) error {
		r := k.rotationOf(e.rec)
		out = &keyring.GetKeyRotationStatusOutput{KeyRotationEnabled: r.RotationEnabled, KeyId: k.keyARN(e.rec)}
		if r.RotationEnabled {
			next := r.nextRotation()
			out.RotationPeriodInDays, out.NextRotationDate = r.RotationPeriodDays, &keyring.EpochTime{Time: next}
		}
		return nil
	})
	return out, err
}

// RotateKeyOnDemand adds a new version that becomes current at once. Older
// versions keep decrypting; the automatic rotation schedule is unchanged.
func (k *Keyring) RotateKeyOnDemand(ctx context.Context, in *keyring.KeyIDInput) (*keyring.RotateKeyOnDemandOutput, error) {
	if err := k.authorize(ctx, authz{op: "RotateKeyOnDemand", keyID: in.KeyId}); err != nil {
		return nil, err
	}
	now := k.now()
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return nil, keyring.ErrClosed
	}
	out, arn, err := k.rotateLocked(ctx, in.KeyId, now)
	ar := keyring.AuditRecord{Op: "RotateKeyOnDemand", KeyId: in.KeyId}
	if out != nil {
		ar.KeyId, ar.KeyVersion = out.KeyId, out.KeyVersion
	}
	k.auditLocked(ctx, ar, err)
	if out != nil {
		out.KeyId = arn
	}
	return out, err
}

// rotateLocked returns the output with the bare key ID, for the audit.
func (k *Keyring) rotateLocked(ctx context.Context, keyID string, now time.Time) (*keyring.RotateKeyOnDemandOutput, string, error) {
	e, err := k.useLocked(ctx, keyID, now)
	if err != nil {
		return nil, "", err
	}
	if err := usable(e.rec); err != nil {
		return nil, "", err
	}
	if err := checkRotation(e.rec); err != nil {
		return nil, "", err
	}
	if err := k.addVersionLocked(ctx, e, now, rotationOnDemand); err != nil {
		return nil, "", err
	}
	return &keyring.RotateKeyOnDemandOutput{KeyId: e.rec.keyID(), KeyVersion: e.rec.current()}, k.keyARN(e.rec), nil
}

// ListKeyRotations lists the rotations of a key (versions 2 and up), oldest
// first.
func (k *Keyring) ListKeyRotations(ctx context.Context, in *keyring.ListKeyRotationsInput) (*keyring.ListKeyRotationsOutput, error) {
	var rots []keyring.KeyRotation
	err := k.readKey(ctx, "ListKeyRotations", in.KeyId, func(e *keyEntry) error {
		arn := k.keyARN(e.rec)
		for _, v := range e.rec.Versions[1:] {
			rots = append(rots, keyring.KeyRotation{KeyId: arn, RotationDate: keyring.EpochTime{Time: v.Created}, RotationType: v.RotationType, KeyVersion: v.Version})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	page, next, err := paginate(rots, versionMarker, validVersionMarker, in.Limit, in.Marker)
	if err != nil {
		return nil, err
	}
	return &keyring.ListKeyRotationsOutput{Rotations: append([]keyring.KeyRotation{}, page...), NextMarker: next, Truncated: next != ""}, nil
}

// versionMarker sorts rotations by version as fixed-width strings; it is
// also the (opaque) paging marker.
func versionMarker(r keyring.KeyRotation) string { return fmt.Sprintf("%010d", r.KeyVersion) }

// validVersionMarker accepts what versionMarker makes.
func validVersionMarker(m string) bool {
	if len(m) != 10 {
		return false
	}
	for _, c := range []byte(m) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// RotateDue applies every due automatic rotation and scheduled deletion
// and returns the number of keys rotated. The process serving a keyring
// calls it periodically (session.StartRotation) so idle keys rotate on
// time; keys in use are also checked on each use.
func (k *Keyring) RotateDue(ctx context.Context) (int, error) {
	return k.purgeDue(ctx, k.now())
}

// SetMinDecryptionVersion refuses decryption and unwrapping under versions
// below v with [keyring.ErrVersionRetired] (a kmsfs extension, as Vault's
// min_decryption_version). v must be between the oldest version that still
// has material and the current version.
func (k *Keyring) SetMinDecryptionVersion(ctx context.Context, keyID string, v uint32) error {
	_, err := k.mutate(ctx, "SetMinDecryptionVersion", keyID, func(rec *keyRecord, _ time.Time) error {
		if v < rec.oldestAvailable() || v > rec.current() {
			return fmt.Errorf("%w: minimum decryption version %d not in %d..%d", keyring.ErrValidation, v, rec.oldestAvailable(), rec.current())
		}
		rec.MinDecrypt = v
		return nil
	})
	return err
}

// oldestAvailable is the lowest version whose material still exists.
func (r *keyRecord) oldestAvailable() uint32 {
	for _, v := range r.Versions {
		if v.Sealed != nil {
			return v.Version
		}
	}
	return r.current()
}

// DestroyVersionsBelow deletes the material of every version below v, for
// good (as Vault's trim). v must not exceed the minimum decryption version,
// so only versions that are already retired can be destroyed.
//
// The cached material is zeroed in the same critical section that persists
// the record: were k.mu released in between, a Passwd could reseal, or an
// ExportKeyring copy, a version that is already gone from disk.
func (k *Keyring) DestroyVersionsBelow(ctx context.Context, keyID string, v uint32) error {
	var destroyed []uint32
	_, err := k.mutateThen(ctx, "DestroyVersionsBelow", keyID, func(rec *keyRecord, _ time.Time) error {
		if v > rec.MinDecrypt {
			return fmt.Errorf("%w: version %d is above the minimum decryption version %d", keyring.ErrValidation, v, rec.MinDecrypt)
		}
		for i := range rec.Versions {
			if rec.Versions[i].Version < v && rec.Versions[i].Sealed != nil {
				rec.Versions[i].Sealed = nil
				destroyed = append(destroyed, rec.Versions[i].Version)
			}
		}
		return nil
	}, func(e *keyEntry) { e.forget(destroyed) })
	return err
}

// forget zeroes and drops cached version keys once their sealed copies are
// gone from disk. The caller holds k.mu exclusively.
func (e *keyEntry) forget(versions []uint32) {
	for _, v := range versions {
		zero(e.material[v])
		delete(e.material, v)
	}
}
