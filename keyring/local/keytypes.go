package local

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"sync"
	"time"

	"github.com/kmsfs/kmsfs/keyring"
	"github.com/kmsfs/kmsfs/keyring/keyspec"
)

// Key types.
//
// A key record names its KeySpec, KeyUsage and Origin (empty: a symmetric
// ENCRYPT_DECRYPT key of origin AWS_KMS, as every key made before key
// types). Every version keeps its 32-byte version key sealed under the KEK
// as before; a key of another spec also has, per version, its material
// (PKCS#8 DER of an asymmetric private key, or an HMAC secret) in
// keyRecord.Typed, sealed under that version key:
//
//	Typed[i].Sealed = nonce(12) || AES-256-GCM(version key, material,
//	                  aad = "kmsfs v1 typed material" || key UUID || u32 version || spec)
//
// So typed material is never on disk in the clear, is covered by the
// record MAC, and follows a passphrase change (which reseals the version
// keys) and destruction of a version (its version key is forgotten) with
// no code of its own. It is unsealed and parsed on a key's first use and
// the parsed key kept in memory beside the version key it is sealed under
// (cachedMaterial), as long as that version key is: parsing is most of the
// cost of a signature otherwise (an ECDSA or Ed25519 parse computes the
// public point; an RSA parse validates and precomputes), and the version
// key in memory opens it anyway. It is zeroed (best effort, see
// keyspec.Material.Zero) when the key's material is forgotten, the key is
// deleted or the keyring closed.
//
// Imported (EXTERNAL) symmetric keys hold the imported 32 bytes as their
// version key; imported HMAC and asymmetric material is typed material as
// above.

const labelTypedAAD = "kmsfs v1 typed material"

// typedMaterial is one version's non-symmetric key material.
type typedMaterial struct {
	Version uint32
	Sealed  []byte
}

// specOf returns a record's KeySpec, KeyUsage and Origin with AWS's
// defaults for records that omit them.
func specOf(r *keyRecord) (spec, usage, origin string) {
	return cmp.Or(r.KeySpec, keyspec.SymmetricDefault), cmp.Or(r.KeyUsage, keyspec.UsageEncryptDecrypt),
		cmp.Or(r.Origin, keyring.OriginAWSKMS)
}

// isSymmetric says whether r's versions are used as AES keys directly.
func isSymmetric(r *keyRecord) bool {
	return r.KeySpec == "" || r.KeySpec == keyspec.SymmetricDefault
}

func typedAAD(id [16]byte, version uint32, spec string) []byte {
	aad := make([]byte, 0, len(labelTypedAAD)+16+4+len(spec))
	aad = append(aad, labelTypedAAD...)
	aad = append(aad, id[:]...)
	aad = binary.BigEndian.AppendUint32(aad, version)
	return append(aad, spec...)
}

// sealTyped seals material under a version key for rec.
func (k *Keyring) sealTyped(rec *keyRecord, version uint32, versionKey, material []byte) (typedMaterial, error) {
	sealed, err := sealKEK(k.opts.Rand, versionKey, material, typedAAD(rec.ID, version, rec.KeySpec))
	if err != nil {
		return typedMaterial{}, err
	}
	return typedMaterial{Version: version, Sealed: sealed}, nil
}

// typedSealed returns the sealed typed material of one version, or nil.
func (r *keyRecord) typedSealed(version uint32) []byte {
	for _, t := range r.Typed {
		if t.Version == version {
			return t.Sealed
		}
	}
	return nil
}

// setTyped replaces (or adds) one version's typed material.
func (r *keyRecord) setTyped(t typedMaterial) {
	for i := range r.Typed {
		if r.Typed[i].Version == t.Version {
			r.Typed[i] = t
			return
		}
	}
	r.Typed = append(r.Typed, t)
}

// newTypedMaterial generates fresh material for a key of rec's spec and
// seals it under versionKey. Symmetric keys have none.
func (k *Keyring) newTypedMaterial(rec *keyRecord, version uint32, versionKey []byte) error {
	if isSymmetric(rec) {
		return nil
	}
	m, err := keyspec.Generate(rec.KeySpec, k.opts.Rand)
	if err != nil {
		return err
	}
	defer m.Zero()
	b, err := m.Bytes()
	if err != nil {
		return err
	}
	defer zero(b)
	t, err := k.sealTyped(rec, version, versionKey, b)
	if err != nil {
		return err
	}
	rec.setTyped(t)
	return nil
}

// typedUse is what one operation on a non-symmetric key copies out of the
// cache under the lock: the version key and the sealed material.
type typedUse struct {
	keyUse
	spec, usage, origin string
	sealed              []byte
	cached              *cachedMaterial // read-locked when set; then key is not copied
}

// cachedMaterial is the parsed typed material of one version of a key,
// named by the sealed blob it was opened from (the record's Typed entry,
// which is replaced, never changed in place). Operations hold use for
// reading while they use m; drop holds it for writing to zero m, so it
// waits for them. Lock order: k.mu, then use (an operation takes use
// while holding k.mu for reading, and never takes k.mu while holding use).
type cachedMaterial struct {
	version uint32
	sealed  []byte
	use     sync.RWMutex
	m       *keyspec.Material
}

// drop zeroes the cached material once no operation uses it.
func (c *cachedMaterial) drop() {
	if c == nil {
		return
	}
	c.use.Lock()
	defer c.use.Unlock()
	if c.m != nil {
		c.m.Zero()
		c.m = nil
	}
}

// dropTyped forgets e's cached typed material.
func (e *keyEntry) dropTyped() { e.typed.Swap(nil).drop() }

// cacheMaterial publishes c as keyID's cached material if the key still
// has c's sealed material, and drops what it replaces. The caller holds
// c.use for reading, and zeroes c.m itself if c was not published.
func (k *Keyring) cacheMaterial(ctx context.Context, keyID string, c *cachedMaterial) (published bool) {
	var old *cachedMaterial
	k.mu.RLock()
	if !k.closed {
		if e, err := k.lookup(ctx, keyID); err == nil && e.material[c.version] != nil &&
			bytes.Equal(e.rec.typedSealed(c.version), c.sealed) {
			old, published = e.typed.Swap(c), true
		}
	}
	k.mu.RUnlock()
	old.drop()
	return published
}

// open unseals and parses the material; the caller zeroes it.
func (u *typedUse) open() (*keyspec.Material, error) {
	b, ok := openKEK(u.key[:], u.sealed, typedAAD(u.id, u.version, u.spec))
	if !ok {
		return nil, corrupt("key %s version %d: typed material does not authenticate", u.id, u.version)
	}
	defer zero(b)
	m, err := keyspec.ParseMaterial(u.spec, b)
	if err != nil {
		return nil, fmt.Errorf("%w: key %s version %d: stored material: %w", keyring.ErrInternal, u.id, u.version, err)
	}
	return m, nil
}

// typedKey copies the current version of an Enabled key for op, after
// checking that the key's spec and usage allow op.
func (k *Keyring) typedKey(ctx context.Context, keyID, op string) (typedUse, error) {
	var u typedUse
	err := k.withKey(ctx, keyID, func(e *keyEntry) error {
		u.id, u.version = e.rec.ID, e.rec.current()
		u.kid, u.region = e.rec.keyID(), e.rec.Region
		u.spec, u.usage, u.origin = specOf(e.rec)
		if err := usable(e.rec); err != nil {
			return err
		}
		if err := keyspec.CheckOperation(u.spec, u.usage, op); err != nil {
			return fmt.Errorf("%w (key %s is %s %s)", err, e.rec.ID, u.spec, u.usage)
		}
		if isSymmetric(e.rec) {
			return fmt.Errorf("%w: key %s is SYMMETRIC_DEFAULT", keyspec.ErrInvalidKeyUsage, e.rec.ID)
		}
		vk, ok := e.material[u.version]
		u.sealed = e.rec.typedSealed(u.version)
		if !ok || u.sealed == nil {
			return fmt.Errorf("%w: key %s has no key material", keyring.ErrInvalidState, e.rec.ID)
		}
		if c := e.typed.Load(); c != nil && c.version == u.version && bytes.Equal(c.sealed, u.sealed) {
			c.use.RLock()
			if c.m != nil {
				u.cached = c
				return nil
			}
			c.use.RUnlock()
		}
		copy(u.key[:], vk)
		return nil
	})
	return u, err
}

// withMaterial runs fn on the parsed current material of keyID for op and
// zeroes everything after; u names the key for the audit even on failure.
func (k *Keyring) withMaterial(ctx context.Context, keyID, op string, fn func(m *keyspec.Material) error) (typedUse, error) {
	u, err := k.typedKey(ctx, keyID, op)
	if err != nil {
		return u, err
	}
	defer u.wipe()
	if c := u.cached; c != nil {
		defer c.use.RUnlock()
		return u, fn(c.m)
	}
	m, err := u.open()
	if err != nil {
		return u, err
	}
	c := &cachedMaterial{version: u.version, sealed: u.sealed, m: m}
	c.use.RLock()
	defer c.use.RUnlock()
	if !k.cacheMaterial(ctx, keyID, c) {
		defer m.Zero() // runs before the RUnlock
	}
	return u, fn(m)
}

// symmetricOnly refuses a key that is not a symmetric encryption key for
// the operations that use version keys as AES keys.
func symmetricOnly(r *keyRecord) error {
	spec, usage, _ := specOf(r)
	if spec == keyspec.SymmetricDefault && usage == keyspec.UsageEncryptDecrypt {
		return nil
	}
	return fmt.Errorf("%w: this operation needs a SYMMETRIC_DEFAULT ENCRYPT_DECRYPT key; key %s is %s %s",
		keyring.ErrInvalidKeyUsage, r.ID, spec, usage)
}

// typedMetadata fills what key types add to KeyMetadata.
func typedMetadata(m *keyring.KeyMetadata, r *keyRecord) {
	spec, usage, origin := specOf(r)
	m.KeySpec, m.CustomerMasterKeySpec, m.KeyUsage, m.Origin = spec, spec, usage, origin
	algs := keyspec.AlgorithmsFor(spec, usage)
	m.EncryptionAlgorithms, m.SigningAlgorithms = algs.EncryptionAlgorithms, algs.SigningAlgorithms
	m.MacAlgorithms, m.KeyAgreementAlgorithms = algs.MacAlgorithms, algs.KeyAgreementAlgorithms
	if origin == keyring.OriginExternal {
		m.ExpirationModel = cmp.Or(r.ExpirationModel, keyring.ExpirationKeyMaterial)
		if r.State == keyring.StatePendingImport {
			m.ExpirationModel = ""
		}
		if r.ValidTo != nil {
			m.ValidTo = &keyring.EpochTime{Time: *r.ValidTo}
		}
	}
}

// materialExpired says whether r's imported material has passed ValidTo.
func materialExpired(r *keyRecord, now time.Time) bool {
	return r.ValidTo != nil && !now.Before(*r.ValidTo) &&
		r.State != keyring.StatePendingImport && !pendingDeletion(r)
}

// setKeyType records a validated CreateKey's spec, usage and origin,
// leaving the members of a symmetric AWS_KMS key empty as before.
func setKeyType(rec *keyRecord, in *keyring.CreateKeyInput) {
	spec := cmp.Or(in.KeySpec, in.CustomerMasterKeySpec)
	usage, _ := keyspec.CheckKeySpec(spec, in.KeyUsage)
	if spec != "" && spec != keyspec.SymmetricDefault {
		rec.KeySpec, rec.KeyUsage = spec, usage
	}
	if in.Origin == keyring.OriginExternal {
		rec.KeySpec, rec.KeyUsage = cmp.Or(spec, keyspec.SymmetricDefault), usage
		rec.Origin, rec.State = keyring.OriginExternal, keyring.StatePendingImport
	}
}

// addFirstVersionLocked gives a new key its version 1: fresh material, or
// for Origin EXTERNAL none until ImportKeyMaterial.
func (k *Keyring) addFirstVersionLocked(ctx context.Context, e *keyEntry, now time.Time) error {
	if e.rec.Origin != keyring.OriginExternal {
		return k.addVersionLocked(ctx, e, now, "")
	}
	e.rec.Versions = []versionRecord{{Version: 1, Created: now}}
	if err := k.persist(e.rec); err != nil {
		return err
	}
	k.keys[e.rec.ref()] = e
	k.noteRegion(e.rec.Region)
	return nil
}

// checkRotation refuses rotation of keys AWS does not rotate: asymmetric,
// HMAC and imported keys.
func checkRotation(rec *keyRecord) error {
	if err := notReplica(rec); err != nil {
		return err
	}
	spec, _, origin := specOf(rec)
	if err := keyspec.CheckAutomaticRotation(spec); err != nil {
		return err
	}
	if origin == keyring.OriginExternal {
		return fmt.Errorf("%w: rotation of keys with imported key material", keyring.ErrUnsupported)
	}
	return nil
}
