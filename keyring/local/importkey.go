package local

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"io"
	"time"

	"github.com/kmsfs/kmsfs/keyring"
	"github.com/kmsfs/kmsfs/keyring/keyspec"
)

// Imported key material (BYOK), as AWS KMS: a key created with Origin
// EXTERNAL is PendingImport with one version that has no material.
// GetParametersForImport hands out an RSA wrapping key and an import token,
// valid 24 hours; ImportKeyMaterial unwraps the material with it, checks
// it against the key's spec (and against the material imported before, if
// any: a key's material never changes), seals it as the key's version 1
// (keytypes.go) and enables the key. Material whose ValidTo passes is
// deleted and the key goes back to PendingImport, lazily, as deletions are.
//
// The wrapping key's private half is sealed under the KEK in the key
// record. A passphrase change does not reseal it, so parameters fetched
// before one are refused (InvalidImportTokenException): fetch new ones.
// The import token is the key's UUID and 16 random bytes naming the
// parameters; only the newest parameters of a key are kept.

const (
	labelWrappingKeyAAD = "kmsfs v1 import wrapping key"
	labelImportedDigest = "kmsfs v1 imported material"
	importTokenIDSize   = 16
	maxValidToDays      = 365
)

// importState is a key record's import bookkeeping.
type importState struct {
	// Digest is SHA-256(label || key UUID || material) of the material
	// imported first, so a re-import must bring the same material.
	Digest []byte        `json:",omitempty"`
	Params *importParams `json:",omitempty"`
}

// importParams is the outstanding result of GetParametersForImport.
type importParams struct {
	TokenID      []byte
	Expires      time.Time
	Algorithm    string
	WrappingSpec string
	Sealed       []byte // the wrapping key's PKCS#8, sealed under the KEK
}

func wrappingKeyAAD(id [16]byte, tokenID []byte) []byte {
	return append(append([]byte(labelWrappingKeyAAD), id[:]...), tokenID...)
}

func importedDigest(id [16]byte, material []byte) []byte {
	h := sha256.New()
	h.Write([]byte(labelImportedDigest))
	h.Write(id[:])
	h.Write(material)
	return h.Sum(nil)
}

// externalOrigin refuses op on a key whose Origin is not EXTERNAL.
func externalOrigin(rec *keyRecord, op string) error {
	if _, _, origin := specOf(rec); origin != keyring.OriginExternal {
		return fmt.Errorf("%w: %s needs a key with Origin EXTERNAL; key %s has %s", keyring.ErrUnsupported, op, rec.ID, origin)
	}
	return nil
}

// external refuses a key whose origin is not EXTERNAL or that is pending
// deletion, as AWS does for the import operations.
func external(rec *keyRecord, op string) error {
	if err := externalOrigin(rec, op); err != nil {
		return err
	}
	if pendingDeletion(rec) {
		return pendingErr(rec)
	}
	return nil
}

// GetParametersForImport returns a fresh RSA wrapping key and import token
// for a key with Origin EXTERNAL.
func (k *Keyring) GetParametersForImport(ctx context.Context, in *keyring.GetParametersForImportInput) (*keyring.GetParametersForImportOutput, error) {
	var out *keyring.GetParametersForImportOutput
	_, err := k.mutate(ctx, "GetParametersForImport", in.KeyId, func(rec *keyRecord, now time.Time) error {
		if err := external(rec, "GetParametersForImport"); err != nil {
			return err
		}
		if err := keyspec.CheckImportParameters(rec.KeySpec, in.WrappingAlgorithm, in.WrappingKeySpec); err != nil {
			return err
		}
		p, pub, err := k.newImportParams(rec, in, now)
		if err != nil {
			return err
		}
		st := importState{Params: p}
		if rec.Import != nil {
			st.Digest = rec.Import.Digest
		}
		rec.Import = &st
		token := append(append([]byte(nil), rec.ID[:]...), p.TokenID...)
		out = &keyring.GetParametersForImportOutput{KeyId: k.keyARN(rec), ImportToken: token, PublicKey: pub,
			ParametersValidTo: keyring.EpochTime{Time: p.Expires}}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (k *Keyring) newImportParams(rec *keyRecord, in *keyring.GetParametersForImportInput, now time.Time) (*importParams, []byte, error) {
	w, err := keyspec.NewWrappingKey(in.WrappingKeySpec, k.opts.Rand)
	if err != nil {
		return nil, nil, err
	}
	defer w.Zero()
	pub, err := w.PublicKey()
	if err != nil {
		return nil, nil, err
	}
	priv, err := w.Bytes()
	if err != nil {
		return nil, nil, err
	}
	defer zero(priv)
	p := &importParams{TokenID: make([]byte, importTokenIDSize), Expires: now.Add(keyspec.ImportTokenValidity),
		Algorithm: in.WrappingAlgorithm, WrappingSpec: in.WrappingKeySpec}
	if _, err := io.ReadFull(k.opts.Rand, p.TokenID); err != nil {
		return nil, nil, fmt.Errorf("%w: reading random import token: %w", keyring.ErrInternal, err)
	}
	if p.Sealed, err = sealKEK(k.opts.Rand, k.kek, priv, wrappingKeyAAD(rec.ID, p.TokenID)); err != nil {
		return nil, nil, err
	}
	return p, pub, nil
}

// ImportKeyMaterial imports wrapped key material into a key with Origin
// EXTERNAL and enables it.
func (k *Keyring) ImportKeyMaterial(ctx context.Context, in *keyring.ImportKeyMaterialInput) (*keyring.ImportKeyMaterialOutput, error) {
	var versionKey []byte
	rec, err := k.mutateThen(ctx, "ImportKeyMaterial", in.KeyId, func(rec *keyRecord, now time.Time) error {
		vk, err := k.importLocked(rec, in, now)
		versionKey = vk
		return err
	}, func(e *keyEntry) {
		if old := e.material[1]; old != nil {
			zero(old)
		}
		e.material[1] = versionKey
	})
	if err != nil {
		zero(versionKey)
		return nil, err
	}
	return &keyring.ImportKeyMaterialOutput{KeyId: k.keyARN(rec)}, nil
}

// importLocked does ImportKeyMaterial's work on a copy of the record and
// returns the new version key.
func (k *Keyring) importLocked(rec *keyRecord, in *keyring.ImportKeyMaterialInput, now time.Time) ([]byte, error) {
	if err := external(rec, "ImportKeyMaterial"); err != nil {
		return nil, err
	}
	validTo, model, err := expiration(in, now)
	if err != nil {
		return nil, err
	}
	p, err := checkImportToken(rec, in.ImportToken, now)
	if err != nil {
		return nil, err
	}
	material, err := k.unwrapImport(rec, p, in.EncryptedKeyMaterial)
	if err != nil {
		return nil, err
	}
	defer zero(material)
	digest := importedDigest(rec.ID, material)
	if rec.Import.Digest != nil && subtle.ConstantTimeCompare(rec.Import.Digest, digest) != 1 {
		return nil, fmt.Errorf("%w: key %s was imported with other material", keyspec.ErrIncorrectKeyMaterial, rec.ID)
	}
	versionKey, err := k.sealImported(rec, material)
	if err != nil {
		return nil, err
	}
	rec.Import = &importState{Digest: digest}
	rec.ValidTo, rec.ExpirationModel = validTo, model
	if rec.State == keyring.StatePendingImport {
		rec.State = keyring.StateEnabled
	}
	return versionKey, nil
}

// expiration checks ValidTo and ExpirationModel as AWS does: ValidTo goes
// with KEY_MATERIAL_EXPIRES (the model when ValidTo is given), within 365
// days, and not with KEY_MATERIAL_DOES_NOT_EXPIRE.
func expiration(in *keyring.ImportKeyMaterialInput, now time.Time) (*time.Time, string, error) {
	model := in.ExpirationModel
	if model == "" {
		model = keyring.ExpirationNoKeyMaterial
		if in.ValidTo != nil {
			model = keyring.ExpirationKeyMaterial
		}
	}
	switch {
	case model != keyring.ExpirationKeyMaterial && model != keyring.ExpirationNoKeyMaterial:
		return nil, "", fmt.Errorf("%w: ExpirationModel %q", keyring.ErrValidation, truncate(model))
	case model == keyring.ExpirationNoKeyMaterial && in.ValidTo != nil:
		return nil, "", fmt.Errorf("%w: ValidTo is not allowed with %s", keyring.ErrValidation, model)
	case model == keyring.ExpirationNoKeyMaterial:
		return nil, model, nil
	case in.ValidTo == nil:
		return nil, "", fmt.Errorf("%w: ValidTo is required with %s", keyring.ErrValidation, model)
	case !in.ValidTo.After(now) || in.ValidTo.After(now.Add(maxValidToDays*day)):
		return nil, "", fmt.Errorf("%w: ValidTo must be in the next %d days", keyring.ErrValidation, maxValidToDays)
	}
	t := in.ValidTo.UTC()
	return &t, model, nil
}

// checkImportToken returns the parameters an import token names.
func checkImportToken(rec *keyRecord, token []byte, now time.Time) (*importParams, error) {
	if len(token) != 16+importTokenIDSize || !bytes.Equal(token[:16], rec.ID[:]) ||
		rec.Import == nil || rec.Import.Params == nil ||
		subtle.ConstantTimeCompare(token[16:], rec.Import.Params.TokenID) != 1 {
		return nil, fmt.Errorf("%w: for key %s", keyspec.ErrInvalidImportToken, rec.ID)
	}
	if p := rec.Import.Params; !now.Before(p.Expires) {
		return nil, fmt.Errorf("%w: for key %s", keyspec.ErrExpiredImportToken, rec.ID)
	}
	return rec.Import.Params, nil
}

// unwrapImport decrypts the wrapped material and checks it fits the spec.
func (k *Keyring) unwrapImport(rec *keyRecord, p *importParams, wrapped []byte) ([]byte, error) {
	priv, ok := openKEK(k.kek, p.Sealed, wrappingKeyAAD(rec.ID, p.TokenID))
	if !ok {
		return nil, fmt.Errorf("%w: for key %s (parameters from before a passphrase change?)", keyspec.ErrInvalidImportToken, rec.ID)
	}
	defer zero(priv)
	w, err := keyspec.ParseMaterial(p.WrappingSpec, priv)
	if err != nil {
		return nil, fmt.Errorf("%w: wrapping key of key %s: %w", keyring.ErrInternal, rec.ID, err)
	}
	defer w.Zero()
	material, err := keyspec.UnwrapImportedMaterial(w, p.Algorithm, wrapped)
	if err != nil {
		return nil, err
	}
	m, err := keyspec.ParseMaterial(rec.KeySpec, material)
	if err != nil {
		zero(material)
		return nil, err
	}
	m.Zero()
	return material, nil
}

// sealImported seals imported material as version 1 of rec and returns
// the version key to publish.
func (k *Keyring) sealImported(rec *keyRecord, material []byte) ([]byte, error) {
	v := &rec.Versions[0]
	var versionKey []byte
	if isSymmetric(rec) {
		versionKey = bytes.Clone(material)
	} else {
		var err error
		if versionKey, err = randomBytes(k.opts.Rand, materialSize); err != nil {
			return nil, err
		}
		t, err := k.sealTyped(rec, v.Version, versionKey, material)
		if err != nil {
			zero(versionKey)
			return nil, err
		}
		rec.Typed = []typedMaterial{t}
	}
	sealed, err := sealKEK(k.opts.Rand, k.kek, versionKey, versionAAD(rec.ID, v.Version))
	if err != nil {
		zero(versionKey)
		return nil, err
	}
	v.Sealed = sealed
	return versionKey, nil
}

// DeleteImportedKeyMaterial deletes a key's imported material; the key
// becomes PendingImport until the same material is imported again.
func (k *Keyring) DeleteImportedKeyMaterial(ctx context.Context, in *keyring.KeyIDInput) (*keyring.DeleteImportedKeyMaterialOutput, error) {
	rec, err := k.mutateThen(ctx, "DeleteImportedKeyMaterial", in.KeyId, func(rec *keyRecord, _ time.Time) error {
		if err := externalOrigin(rec, "DeleteImportedKeyMaterial"); err != nil {
			return err
		}
		dropImported(rec)
		return nil
	}, forgetMaterial)
	if err != nil {
		return nil, err
	}
	return &keyring.DeleteImportedKeyMaterialOutput{KeyId: k.keyARN(rec)}, nil
}

// dropImported removes imported material from a record copy. A key
// pending deletion keeps its state and deletion date, as AWS's API
// reference says of DeleteImportedKeyMaterial; any other becomes
// PendingImport.
func dropImported(rec *keyRecord) {
	for i := range rec.Versions {
		rec.Versions[i].Sealed = nil
	}
	rec.Typed, rec.ValidTo, rec.ExpirationModel = nil, nil, ""
	if !pendingDeletion(rec) {
		rec.State = keyring.StatePendingImport
	}
	if rec.Import != nil {
		rec.Import = &importState{Digest: rec.Import.Digest}
	}
}

// forgetMaterial zeroes and drops every cached version key of e.
func forgetMaterial(e *keyEntry) {
	for v, m := range e.material {
		zero(m)
		delete(e.material, v)
	}
	e.dropTyped()
}

// expireLocked deletes material past its ValidTo. The caller holds k.mu
// exclusively.
func (k *Keyring) expireLocked(ctx context.Context, e *keyEntry) error {
	rec := e.rec.clone()
	dropImported(rec)
	err := k.persist(rec)
	if err == nil {
		e.rec = rec
		forgetMaterial(e)
	}
	k.auditLocked(ctx, keyring.AuditRecord{Op: "DeleteExpiredKeyMaterial", KeyId: rec.ID.String()}, err)
	return err
}
