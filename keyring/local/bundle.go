package local

import (
	"bytes"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/kmsfs/kmsfs/keyring"
	"github.com/kmsfs/kmsfs/keyring/keyspec"
)

// Keyring bundle, version 1 (FORMAT.md, "Keyring bundle"): the whole
// keyring sealed under a passphrase of its own. All integers big-endian.
//
//	offset  size  field
//	0       8     magic "KMSFSKR1"
//	8       4     argon2id time (passes), u32
//	12      4     argon2id memory in KiB, u32
//	16      1     argon2id threads, u8
//	17      32    salt, random per bundle
//	49      32    passphrase check = HMAC-SHA-256(K_check, bytes 0..48)
//	81      12    nonce, random
//	93      n+16  AES-256-GCM(K_enc, nonce, payload, aad = bytes 0..80)
//
//	K       = Argon2id(passphrase, salt, time, memory, threads, 32 bytes)
//	K_enc   = HKDF-SHA-256(ikm=K, salt="", info="kmsfs bundle v1 encryption")
//	K_check = HKDF-SHA-256(ikm=K, salt="", info="kmsfs bundle v1 passphrase check")
//
// The payload is JSON (see bundlePayload). The check lets a wrong passphrase
// fail as [keyring.ErrWrongPassphrase], apart from a tampered payload
// ([keyring.ErrBundleCorrupt]); altering the header's KDF parameters or salt also
// reads as a wrong passphrase, because they change K.
const (
	// BundleMagic opens every bundle; its last byte is the format version.
	BundleMagic = "KMSFSKR1"
	// BundleHeaderSize is the size of everything before the ciphertext.
	BundleHeaderSize = bundleAADSize + gcmNonceSize // 93
	// BundleOverhead is the size of a bundle beyond its payload.
	BundleOverhead = BundleHeaderSize + gcmTagSize // 109
	// MaxBundleSize bounds a bundle, so that a hostile file cannot make a
	// reader allocate without limit. It holds thousands of keys.
	MaxBundleSize = 4 << 20

	bundleKDFSize    = 4 + 4 + 1
	bundleSaltSize   = 32
	bundleCheckSize  = sha256.Size
	bundleCheckStart = len(BundleMagic) + bundleKDFSize + bundleSaltSize // 49
	bundleAADSize    = bundleCheckStart + bundleCheckSize                // 81

	// maxBundleKDFMemoryKiB is lower than a keyring's bound: a bundle is
	// foreign input, and 1 GiB is 16 times DefaultKDF.
	maxBundleKDFMemoryKiB = 1 << 20
	// bundlePayloadFormat 2 adds key policies, tags and grants, format 3
	// key types (FORMAT.md §14.7), format 4 regions and multi-Region keys
	// (mrk.go; written only by a keyring that has them); format 1 to 3
	// payloads still import.
	bundlePayloadFormat   = 4
	bundlePayloadFormatV3 = 3
	bundlePayloadFormatV2 = 2
	bundlePayloadFormatV1 = 1

	infoBundleEncryption = "kmsfs bundle v1 encryption"
	infoBundleCheck      = "kmsfs bundle v1 passphrase check"
)

// bundleError is an [keyring.ErrBundleCorrupt] with a detail that never holds
// secrets.
type bundleError struct{ detail string }

func (e *bundleError) Error() string { return keyring.ErrBundleCorrupt.Error() + ": " + e.detail }
func (e *bundleError) Unwrap() []error {
	return []error{keyring.ErrBundleCorrupt, keyring.ErrInvalidCiphertext}
}

func bundleCorrupt(format string, a ...any) error {
	return &bundleError{detail: fmt.Sprintf(format, a...)}
}

// BundleHeader is the cleartext part of a keyring bundle.
type BundleHeader struct {
	KDF        keyring.KDFParams
	Salt       [bundleSaltSize]byte
	Check      [bundleCheckSize]byte
	Nonce      [gcmNonceSize]byte
	Ciphertext []byte // GCM ciphertext || tag; aliases the parsed input
}

// ParseBundle splits a keyring bundle into its header fields and
// ciphertext. It checks only the layout (magic, length bounds, KDF
// parameter bounds), never the passphrase or authenticity, and never
// panics. Failures wrap [keyring.ErrBundleCorrupt].
func ParseBundle(b []byte) (BundleHeader, error) {
	var h BundleHeader
	switch {
	case len(b) < len(BundleMagic) || string(b[:len(BundleMagic)-1]) != BundleMagic[:len(BundleMagic)-1]:
		return h, bundleCorrupt("not a kmsfs keyring bundle")
	case b[len(BundleMagic)-1] != BundleMagic[len(BundleMagic)-1]:
		return h, bundleCorrupt("unsupported bundle version %q", b[len(BundleMagic)-1])
	case len(b) < BundleOverhead:
		return h, bundleCorrupt("truncated: %d bytes", len(b))
	case len(b) > MaxBundleSize:
		return h, bundleCorrupt("%d bytes, more than the limit of %d", len(b), MaxBundleSize)
	}
	p := b[len(BundleMagic):]
	h.KDF = keyring.KDFParams{Time: binary.BigEndian.Uint32(p), MemoryKiB: binary.BigEndian.Uint32(p[4:]), Threads: p[8]}
	if err := h.KDF.Validate(); err != nil || h.KDF.MemoryKiB > maxBundleKDFMemoryKiB {
		return h, bundleCorrupt("argon2id parameters out of range")
	}
	copy(h.Salt[:], b[bundleCheckStart-bundleSaltSize:bundleCheckStart])
	copy(h.Check[:], b[bundleCheckStart:bundleAADSize])
	copy(h.Nonce[:], b[bundleAADSize:BundleHeaderSize])
	h.Ciphertext = b[BundleHeaderSize:]
	return h, nil
}

// appendChecked appends the bytes the passphrase check covers (0..48).
func (h *BundleHeader) appendChecked(b []byte) []byte {
	b = append(b, BundleMagic...)
	b = binary.BigEndian.AppendUint32(b, h.KDF.Time)
	b = binary.BigEndian.AppendUint32(b, h.KDF.MemoryKiB)
	b = append(b, h.KDF.Threads)
	return append(b, h.Salt[:]...)
}

// Marshal returns the bundle bytes. It is the inverse of [ParseBundle].
func (h BundleHeader) Marshal() []byte {
	b := make([]byte, 0, BundleHeaderSize+len(h.Ciphertext))
	b = h.appendChecked(b)
	b = append(b, h.Check[:]...)
	b = append(b, h.Nonce[:]...)
	return append(b, h.Ciphertext...)
}

// bundleKeys derives K_enc and K_check from the passphrase. The caller
// zeroes both.
func bundleKeys(passphrase []byte, h *BundleHeader) (encKey, checkKey []byte, err error) {
	k, err := deriveKEK(passphrase, h.Salt[:], h.KDF)
	if err != nil {
		return nil, nil, err
	}
	defer zero(k)
	encKey, err = hkdf.Key(sha256.New, k, nil, infoBundleEncryption, 32)
	if err != nil {
		panic("keyring: internal error: " + err.Error())
	}
	checkKey, err = hkdf.Key(sha256.New, k, nil, infoBundleCheck, 32)
	if err != nil {
		panic("keyring: internal error: " + err.Error())
	}
	return encKey, checkKey, nil
}

func bundleCheck(checkKey []byte, h *BundleHeader) []byte {
	m := hmac.New(sha256.New, checkKey)
	m.Write(h.appendChecked(nil))
	return m.Sum(nil)
}

// sealBundle encrypts a payload into a bundle under passphrase.
func sealBundle(rnd io.Reader, passphrase []byte, kdf keyring.KDFParams, p *bundlePayload) ([]byte, error) {
	pt, err := json.Marshal(p)
	defer zero(pt)
	if err != nil {
		return nil, fmt.Errorf("%w: encoding the bundle: %w", keyring.ErrInternal, err)
	}
	if BundleOverhead+len(pt) > MaxBundleSize {
		return nil, fmt.Errorf("%w: the keyring needs a %d-byte bundle, more than the limit of %d", keyring.ErrValidation, BundleOverhead+len(pt), MaxBundleSize)
	}
	h := BundleHeader{KDF: kdf}
	if _, err := io.ReadFull(rnd, h.Salt[:]); err != nil {
		return nil, fmt.Errorf("%w: reading random salt: %w", keyring.ErrInternal, err)
	}
	if _, err := io.ReadFull(rnd, h.Nonce[:]); err != nil {
		return nil, fmt.Errorf("%w: reading random nonce: %w", keyring.ErrInternal, err)
	}
	encKey, checkKey, err := bundleKeys(passphrase, &h)
	if err != nil {
		return nil, err
	}
	defer zero(encKey)
	defer zero(checkKey)
	copy(h.Check[:], bundleCheck(checkKey, &h))
	aead, err := newGCM(encKey)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", keyring.ErrInternal, err)
	}
	out := h.Marshal() // header only: no ciphertext yet
	return aead.Seal(out, h.Nonce[:], pt, out[:bundleAADSize]), nil
}

// openBundle authenticates a bundle and decodes and validates its payload.
// A wrong passphrase fails with [keyring.ErrWrongPassphrase], anything else with
// [keyring.ErrBundleCorrupt]. The caller zeroes the payload.
func openBundle(b, passphrase []byte) (*bundlePayload, error) {
	h, err := ParseBundle(b)
	if err != nil {
		return nil, err
	}
	encKey, checkKey, err := bundleKeys(passphrase, &h)
	if err != nil {
		return nil, err
	}
	defer zero(encKey)
	defer zero(checkKey)
	if !hmac.Equal(h.Check[:], bundleCheck(checkKey, &h)) {
		return nil, fmt.Errorf("%w for the bundle", keyring.ErrWrongPassphrase)
	}
	aead, err := newGCM(encKey)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", keyring.ErrInternal, err)
	}
	pt, err := aead.Open(nil, h.Nonce[:], h.Ciphertext, b[:bundleAADSize])
	defer zero(pt)
	if err != nil {
		return nil, bundleCorrupt("authentication failed")
	}
	return decodePayload(pt)
}

// decodePayload parses and validates an authenticated payload. A payload
// can only be wrong here if whoever held the passphrase wrote it so.
func decodePayload(pt []byte) (*bundlePayload, error) {
	p := new(bundlePayload)
	dec := json.NewDecoder(bytes.NewReader(pt))
	dec.DisallowUnknownFields()
	if err := dec.Decode(p); err != nil {
		p.zero()
		return nil, bundleCorrupt("payload is not valid JSON of format %d to %d", bundlePayloadFormatV1, bundlePayloadFormat)
	}
	if err := p.validate(); err != nil {
		p.zero()
		return nil, err
	}
	return p, nil
}

// BundleInfo summarises a bundle's contents.
type BundleInfo struct {
	Created  time.Time
	Keys     int
	Versions int // versions that carry key material
	Aliases  int
}

// InspectBundle authenticates a bundle and summarises it, without a
// keyring: the command line checks a bundle (and its passphrase) this way
// before it creates a keyring to import it into.
func InspectBundle(b, passphrase []byte) (*BundleInfo, error) {
	p, err := openBundle(b, passphrase)
	if err != nil {
		return nil, err
	}
	defer p.zero()
	return p.info(), nil
}

// bundlePayload is the JSON inside a bundle: every key with every version's
// material, every alias.
type bundlePayload struct {
	Format  int
	Created time.Time
	Keys    []bundleKey
	Aliases []bundleAlias
}

type bundleKey struct {
	ID                 uuid.UUID
	Description        string
	Created            time.Time
	State              string
	DeletionDate       *time.Time `json:",omitempty"`
	PendingWindowDays  int        `json:",omitempty"`
	RotationEnabled    bool
	RotationPeriodDays int `json:",omitempty"`
	RotationBase       time.Time
	MinDecrypt         uint32
	Versions           []bundleVersion
	// Payload format 2.
	Policy string        `json:",omitempty"`
	Tags   []keyring.Tag `json:",omitempty"`
	Grants []grantRecord `json:",omitempty"`
	// Payload format 3: the key type (keytypes.go, importkey.go), as the
	// key record has it; all absent for a symmetric key of origin AWS_KMS.
	KeySpec         string     `json:",omitempty"`
	KeyUsage        string     `json:",omitempty"`
	Origin          string     `json:",omitempty"`
	ValidTo         *time.Time `json:",omitempty"`
	ExpirationModel string     `json:",omitempty"`
	ImportDigest    []byte     `json:",omitempty"` // of the material imported first
	// Multi-Region keys (mrk.go): the record's region ("" the default)
	// and PRIMARY or REPLICA; absent for other keys, so payloads without
	// them keep format 3.
	Region      string `json:",omitempty"`
	MultiRegion string `json:",omitempty"`
}

type bundleVersion struct {
	Version      uint32
	Created      time.Time
	RotationType string `json:",omitempty"`
	Material     []byte `json:",omitempty"` // absent once destroyed
	// Typed is the version's asymmetric or HMAC material as the key
	// record holds it, sealed under Material (keytypes.go); payload
	// format 3, for keys of other specs than SYMMETRIC_DEFAULT only.
	Typed []byte `json:",omitempty"`
}

type bundleAlias struct {
	Name    string
	Target  uuid.UUID
	Created time.Time
	Updated time.Time
	Region  string `json:",omitempty"` // payload format 4
}

func (p *bundlePayload) zero() {
	for i := range p.Keys {
		for j := range p.Keys[i].Versions {
			zero(p.Keys[i].Versions[j].Material)
		}
	}
}

func (p *bundlePayload) info() *BundleInfo {
	in := &BundleInfo{Created: p.Created, Keys: len(p.Keys), Aliases: len(p.Aliases)}
	for _, k := range p.Keys {
		for _, v := range k.Versions {
			if v.Material != nil {
				in.Versions++
			}
		}
	}
	return in
}

func (k *bundleKey) current() uint32 { return k.Versions[len(k.Versions)-1].Version }

// validate checks the invariants the keyring keeps for its own records, so
// an imported key behaves like one made here.
func (p *bundlePayload) validate() error {
	if p.Format < bundlePayloadFormatV1 || p.Format > bundlePayloadFormat {
		return bundleCorrupt("unsupported payload format %d", p.Format)
	}
	ids := make(map[keyRef]bool, len(p.Keys))
	for i := range p.Keys {
		bk := &p.Keys[i]
		ref := keyRef{Region: bk.Region, ID: bk.ID}
		if ids[ref] {
			return bundleCorrupt("key %s appears twice", bk.ID)
		}
		ids[ref] = true
		if err := bk.validateV4(p.Format); err != nil {
			return bundleCorrupt("key %s: %v", bk.ID, err)
		}
		if err := bk.validate(); err != nil {
			return bundleCorrupt("key %s: %v", bk.ID, err)
		}
		if err := bk.validateV2(p.Format); err != nil {
			return bundleCorrupt("key %s: %v", bk.ID, err)
		}
		if err := bk.validateV3(p.Format); err != nil {
			return bundleCorrupt("key %s: %v", bk.ID, err)
		}
	}
	names := make(map[string]bool, len(p.Aliases))
	for _, a := range p.Aliases {
		switch {
		case validAliasName(a.Name) != nil:
			return bundleCorrupt("invalid alias name %q", truncate(a.Name))
		case names[a.Name]:
			return bundleCorrupt("alias %s appears twice", a.Name)
		case a.Region != "" && (p.Format < bundlePayloadFormat || validRegion(a.Region) != nil):
			return bundleCorrupt("alias %s: region %q", a.Name, truncate(a.Region))
		case !ids[keyRef{Region: a.Region, ID: a.Target}]:
			return bundleCorrupt("alias %s points to key %s, which the bundle does not hold", a.Name, a.Target)
		}
		names[a.Name] = true
	}
	return nil
}

// errBadKey is the detail of an invalid key in a bundle; validate wraps it.
var errBadKey = errors.New("invalid key record")

func (bk *bundleKey) validate() error {
	switch {
	case bk.ID == uuid.Nil:
		return fmt.Errorf("%w: nil key ID", errBadKey)
	case len(bk.Description) > maxDescription:
		return fmt.Errorf("%w: description longer than %d", errBadKey, maxDescription)
	case bk.State != keyring.StateEnabled && bk.State != keyring.StateDisabled && bk.State != keyring.StatePendingDeletion &&
		(bk.State != keyring.StatePendingImport || bk.Origin != keyring.OriginExternal) &&
		(bk.State != keyring.StatePendingReplicaDeletion || bk.MultiRegion != keyring.MultiRegionPrimary):
		return fmt.Errorf("%w: unknown state %q", errBadKey, truncate(bk.State))
	case (bk.State == keyring.StatePendingDeletion) != (bk.DeletionDate != nil):
		return fmt.Errorf("%w: deletion date does not match state %s", errBadKey, bk.State)
	case bk.RotationEnabled && (bk.RotationPeriodDays < minRotationDays || bk.RotationPeriodDays > maxRotationDays):
		return fmt.Errorf("%w: rotation period %d days", errBadKey, bk.RotationPeriodDays)
	case len(bk.Versions) == 0:
		return fmt.Errorf("%w: no versions", errBadKey)
	case bk.MinDecrypt < 1 || bk.MinDecrypt > bk.current():
		return fmt.Errorf("%w: minimum decryption version %d", errBadKey, bk.MinDecrypt)
	}
	for i, v := range bk.Versions {
		switch {
		case v.Version != uint32(i+1):
			return fmt.Errorf("%w: version %d at position %d", errBadKey, v.Version, i+1)
		case v.Material != nil && len(v.Material) != materialSize:
			return fmt.Errorf("%w: version %d: material of %d bytes", errBadKey, v.Version, len(v.Material))
		case v.Material == nil && v.Version >= bk.MinDecrypt && !bk.awaitsImport():
			return fmt.Errorf("%w: version %d has no material but is not retired", errBadKey, v.Version)
		}
	}
	return nil
}

// validateV2 checks the members payload format 2 added: none in format 1,
// and in format 2 what the keyring itself would accept.
func (bk *bundleKey) validateV2(format int) error {
	if format == bundlePayloadFormatV1 {
		if bk.Policy != "" || bk.Tags != nil || bk.Grants != nil {
			return fmt.Errorf("%w: policy, tags or grants in a format 1 payload", errBadKey)
		}
		return nil
	}
	if bk.Policy != "" {
		if err := checkPolicyShape(bk.Policy); err != nil {
			return fmt.Errorf("%w: %v", errBadKey, err)
		}
	}
	if len(bk.Tags) > maxTags {
		return fmt.Errorf("%w: %d tags", errBadKey, len(bk.Tags))
	}
	for i, t := range bk.Tags {
		if err := validTag(t); err != nil || i > 0 && bk.Tags[i-1].TagKey >= t.TagKey {
			return fmt.Errorf("%w: tag %d invalid or out of order", errBadKey, i)
		}
	}
	if len(bk.Grants) > maxGrantsPerKey {
		return fmt.Errorf("%w: %d grants", errBadKey, len(bk.Grants))
	}
	for i, g := range bk.Grants {
		if err := validGrantRecord(g); err != nil || i > 0 && bk.Grants[i-1].ID >= g.ID {
			return fmt.Errorf("%w: grant %d invalid or out of order", errBadKey, i)
		}
	}
	return nil
}

// awaitsImport says whether bk is a key with Origin EXTERNAL whose
// material was never imported or was deleted: its versions have none.
// Such a key is PendingImport, or was scheduled for deletion (and maybe
// cancelled, so Disabled) in that state.
func (bk *bundleKey) awaitsImport() bool {
	if bk.Origin != keyring.OriginExternal || bk.State == keyring.StateEnabled {
		return false
	}
	for _, v := range bk.Versions {
		if v.Material != nil {
			return false
		}
	}
	return true
}

// validateV3 checks the key type payload format 3 added: none before it,
// and in format 3 a key the keyring itself could have made: a KeySpec and
// KeyUsage CreateKey accepts, the import members only with Origin
// EXTERNAL, and for every version with material of a non-symmetric spec
// typed material that authenticates under that version's material and
// parses as the spec's. (The material is opened here, so that a bundle
// that InspectBundle accepts imports keys that work.)
func (bk *bundleKey) validateV3(format int) error {
	if format < bundlePayloadFormatV3 {
		if bk.KeySpec != "" || bk.KeyUsage != "" || bk.Origin != "" || bk.ValidTo != nil || bk.ExpirationModel != "" ||
			bk.ImportDigest != nil || slices.ContainsFunc(bk.Versions, func(v bundleVersion) bool { return v.Typed != nil }) {
			return fmt.Errorf("%w: key type members in a format %d payload", errBadKey, format)
		}
		return nil
	}
	switch {
	case bk.Origin != "" && bk.Origin != keyring.OriginExternal:
		return fmt.Errorf("%w: origin %q", errBadKey, truncate(bk.Origin))
	case bk.KeySpec == "" && (bk.KeyUsage != "" || bk.Origin != ""):
		return fmt.Errorf("%w: key usage or origin without a key spec", errBadKey)
	case bk.KeySpec != "":
		usage, err := keyspec.CheckKeySpec(bk.KeySpec, bk.KeyUsage)
		if err != nil || usage != bk.KeyUsage {
			return fmt.Errorf("%w: key spec %q with key usage %q", errBadKey, truncate(bk.KeySpec), truncate(bk.KeyUsage))
		}
	}
	external := bk.Origin == keyring.OriginExternal
	switch {
	case !external && (bk.ValidTo != nil || bk.ExpirationModel != "" || bk.ImportDigest != nil):
		return fmt.Errorf("%w: import members without origin EXTERNAL", errBadKey)
	case bk.ExpirationModel != "" && bk.ExpirationModel != keyring.ExpirationKeyMaterial && bk.ExpirationModel != keyring.ExpirationNoKeyMaterial:
		return fmt.Errorf("%w: expiration model %q", errBadKey, truncate(bk.ExpirationModel))
	case bk.ValidTo != nil && bk.ExpirationModel != keyring.ExpirationKeyMaterial:
		return fmt.Errorf("%w: ValidTo without %s", errBadKey, keyring.ExpirationKeyMaterial)
	case bk.ImportDigest != nil && len(bk.ImportDigest) != sha256.Size:
		return fmt.Errorf("%w: import digest of %d bytes", errBadKey, len(bk.ImportDigest))
	case external && (bk.RotationEnabled || len(bk.Versions) != 1):
		return fmt.Errorf("%w: a key with imported material has one version and no rotation", errBadKey)
	case bk.awaitsImport() && (bk.ValidTo != nil || bk.ExpirationModel != ""):
		return fmt.Errorf("%w: expiration without imported material", errBadKey)
	case external && !bk.awaitsImport() && (bk.State == keyring.StatePendingImport || bk.ImportDigest == nil):
		return fmt.Errorf("%w: imported material without its digest, or PendingImport with material", errBadKey)
	}
	symmetric := bk.KeySpec == "" || bk.KeySpec == keyspec.SymmetricDefault
	if !symmetric && (bk.RotationEnabled || len(bk.Versions) != 1) {
		return fmt.Errorf("%w: a %s key has one version and no rotation", errBadKey, bk.KeySpec)
	}
	for _, v := range bk.Versions {
		switch {
		case v.Typed != nil && (symmetric || v.Material == nil):
			return fmt.Errorf("%w: version %d: typed material without a typed key spec or version material", errBadKey, v.Version)
		case !symmetric && v.Material != nil && v.Typed == nil:
			return fmt.Errorf("%w: version %d: no %s material", errBadKey, v.Version, bk.KeySpec)
		case v.Typed != nil:
			if err := checkTyped(bk.ID, v, bk.KeySpec); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkTyped opens and parses one version's typed material, and zeroes it.
func checkTyped(id uuid.UUID, v bundleVersion, spec string) error {
	b, ok := openKEK(v.Material, v.Typed, typedAAD(id, v.Version, spec))
	if !ok {
		return fmt.Errorf("%w: version %d: typed material does not authenticate under its version key", errBadKey, v.Version)
	}
	defer zero(b)
	m, err := keyspec.ParseMaterial(spec, b)
	if err != nil {
		return fmt.Errorf("%w: version %d: typed material is not a %s key", errBadKey, v.Version, spec)
	}
	m.Zero()
	return nil
}

// validateV4 checks the members payload format 4 added: a region and a
// multi-Region key type.
func (bk *bundleKey) validateV4(format int) error {
	if bk.Region == "" && bk.MultiRegion == "" {
		return nil
	}
	switch {
	case format < bundlePayloadFormat:
		return fmt.Errorf("%w: a region or multi-Region key in a format %d payload", errBadKey, format)
	case bk.Region != "" && validRegion(bk.Region) != nil:
		return fmt.Errorf("%w: region %q", errBadKey, truncate(bk.Region))
	case bk.MultiRegion != "" && bk.MultiRegion != keyring.MultiRegionPrimary && bk.MultiRegion != keyring.MultiRegionReplica:
		return fmt.Errorf("%w: MultiRegion %q", errBadKey, truncate(bk.MultiRegion))
	case bk.MultiRegion != "" && bk.Origin == keyring.OriginExternal:
		return fmt.Errorf("%w: a multi-Region key with imported material", errBadKey)
	}
	return nil
}
