package volume

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"fmt"

	"github.com/google/uuid"

	"github.com/kmsfs/kmsfs/envelope"
)

// NameKeySize is the size of a volume's name key (names.KeySize).
const NameKeySize = 32

// nameKeyLabel starts the additional data of the name key's wrapping,
// docs/NAMES.md §2.1.
const nameKeyLabel = "kmsfs v1 name key"

// WrappedKey is the volume's name key wrapped by one master key version,
// as stored in kmsfs.conf. It is wrapped exactly like a file's data key:
// the key service never sees it in clear outside a wrap or unwrap call.
type WrappedKey struct {
	KeyId   string // master key ID (UUID) that wrapped it
	Version uint32 // master key version, from 1
	Wrapped string // the wrapped key, standard base64
}

// parse returns the key reference and wrapped bytes of w. A KMS volume's
// name key has version 0, since a KMS keeps versions inside its blob
// (FORMAT.md §4.6); a local one's has a version from 1.
func (w *WrappedKey) parse(kms bool) (envelope.KeyRef, []byte, error) {
	id, err := uuid.Parse(w.KeyId)
	if err != nil {
		return envelope.KeyRef{}, nil, fmt.Errorf("%w: name key: bad KeyId", ErrBadConfig)
	}
	if (w.Version == 0) != kms {
		return envelope.KeyRef{}, nil, fmt.Errorf("%w: name key: version %d", ErrBadConfig, w.Version)
	}
	b, err := base64.StdEncoding.Strict().DecodeString(w.Wrapped)
	if err != nil || len(b) == 0 {
		return envelope.KeyRef{}, nil, fmt.Errorf("%w: name key: bad wrapped key", ErrBadConfig)
	}
	return envelope.KeyRef{KeyID: id, Version: w.Version}, b, nil
}

// nameKeyAAD binds the wrapped name key to this volume and config layout
// (docs/NAMES.md §2.1): "kmsfs v1 name key" || VolumeID (16 bytes) ||
// Version (4 bytes, big-endian). A wrapped name key copied into another
// volume's config does not unwrap there.
func (c *Config) nameKeyAAD() ([]byte, error) {
	id, err := c.volumeID()
	if err != nil {
		return nil, err
	}
	aad := append([]byte(nameKeyLabel), id...)
	return binary.BigEndian.AppendUint32(aad, uint32(c.Version)), nil
}

// SetPlaintextNames makes c a volume that stores names as they are
// (kmsfs init --plaintext-names). Such a config is written as version 1,
// which older kmsfs binaries read too.
func (c *Config) SetPlaintextNames() {
	c.PlaintextNames, c.WrappedNameKey, c.Version = true, nil, c.namesVersion(true)
}

// namesVersion is the config version of c with plain or encrypted names:
// a KMS volume is version 3 either way.
func (c *Config) namesVersion(plain bool) int {
	switch {
	case c.IsKMS():
		return ConfigVersionKMS
	case plain:
		return ConfigVersionPlainNames
	}
	return ConfigVersion
}

// GenerateNameKey gives c a fresh random name key wrapped by w, and turns
// name encryption on. The key is zeroed before it returns; the mount gets
// it back with NameKey.
func (c *Config) GenerateNameKey(ctx context.Context, w envelope.KeyWrapper) error {
	key := make([]byte, NameKeySize)
	defer clear(key)
	if _, err := rand.Read(key); err != nil {
		return fmt.Errorf("volume: name key: %w", err)
	}
	c.Version, c.PlaintextNames = c.namesVersion(false), false
	wk, err := c.wrapNameKey(ctx, w, key)
	if err != nil {
		return err
	}
	c.WrappedNameKey = wk
	return nil
}

// wrapNameKey wraps key for c.
func (c *Config) wrapNameKey(ctx context.Context, w envelope.KeyWrapper, key []byte) (*WrappedKey, error) {
	aad, err := c.nameKeyAAD()
	if err != nil {
		return nil, err
	}
	ref, wrapped, err := w.WrapKey(ctx, key, aad)
	if err != nil {
		return nil, fmt.Errorf("volume: wrapping name key: %w", err)
	}
	return &WrappedKey{
		KeyId:   uuid.UUID(ref.KeyID).String(),
		Version: ref.Version,
		Wrapped: base64.StdEncoding.EncodeToString(wrapped),
	}, nil
}

// NameKey unwraps the volume's name key with ks. The caller zeroes it once
// the name codec is built. A volume with plaintext names has none
// (ErrPlaintextNames); a name key that was altered, or moved from another
// volume, fails as ks reports it (an error wrapping
// envelope.ErrUnauthenticated).
func (c *Config) NameKey(ctx context.Context, ks envelope.KeyService) ([]byte, error) {
	if c.PlaintextNames || c.WrappedNameKey == nil {
		return nil, ErrPlaintextNames
	}
	ref, wrapped, err := c.WrappedNameKey.parse(c.IsKMS())
	if err != nil {
		return nil, err
	}
	aad, err := c.nameKeyAAD()
	if err != nil {
		return nil, err
	}
	key, err := ks.UnwrapKey(ctx, ref, wrapped, aad)
	if err != nil {
		return nil, fmt.Errorf("volume: unwrapping name key (%s): %w", ref, err)
	}
	if len(key) != NameKeySize {
		clear(key)
		return nil, fmt.Errorf("%w: name key is %d bytes", ErrBadConfig, len(key))
	}
	return key, nil
}

// RewrapNameKey unwraps the name key with ks and wraps it again with w,
// which wraps under its master key's newest version (after a rotation,
// or for a re-key to another master key). If the key reference changed it
// saves the config atomically in the directory it was loaded from and
// reports changed. The name key itself never changes, so no file is
// renamed. A volume with plaintext names has nothing to rewrap.
func (c *Config) RewrapNameKey(ctx context.Context, ks envelope.KeyService, w envelope.KeyWrapper) (changed bool, err error) {
	if c.PlaintextNames {
		return false, nil
	}
	if c.dir == "" {
		return false, ErrNoDir
	}
	key, err := c.NameKey(ctx, ks)
	if err != nil {
		return false, err
	}
	defer clear(key)
	wk, err := c.wrapNameKey(ctx, w, key)
	if err != nil {
		return false, err
	}
	if wk.KeyId == c.WrappedNameKey.KeyId && wk.Version == c.WrappedNameKey.Version {
		return false, nil
	}
	old := c.WrappedNameKey
	c.WrappedNameKey = wk
	if err := c.Save(c.dir); err != nil {
		c.WrappedNameKey = old
		return false, fmt.Errorf("volume: saving rewrapped name key: %w", err)
	}
	return true, nil
}
