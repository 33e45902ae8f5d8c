package volume

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/kmsfs/kmsfs/envelope"
)

// NameKeySize is the size of a volume's name key (names.KeySize).
const NameKeySize = 32

// nameKeyLabel starts the additional data of the name key's wrapping,
// docs/NAMES.md §2.1; nameKeyLabelAuth replaces it in a config with a
// MAC (FORMAT.md §15.4), so that stripping the MAC breaks the unwrap.
const (
	nameKeyLabel     = "kmsfs v1 name key"
	nameKeyLabelAuth = "kmsfs v2 name key"
)

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
// (docs/NAMES.md §2.1): "kmsfs v1 name key" (or "kmsfs v2 name key" in a
// config with a MAC) || VolumeID (16 bytes) || Version (4 bytes,
// big-endian). A wrapped name key copied into another volume's config
// does not unwrap there.
func (c *Config) nameKeyAAD() []byte {
	if c.authenticated {
		return c.keyAAD(nameKeyLabelAuth)
	}
	return c.keyAAD(nameKeyLabel)
}

// keyAAD is label || VolumeID || Version u32, the AAD of the name key's
// and the config key's wraps; VolumeID was validated.
func (c *Config) keyAAD(label string) []byte {
	id, _ := c.volumeID()
	aad := append([]byte(label), id...)
	return binary.BigEndian.AppendUint32(aad, uint32(c.Version))
}

// SetPlaintextNames makes c a volume that stores names as they are
// (kmsfs init --plaintext-names). Such a config is written as version 1,
// which older kmsfs binaries read too.
func (c *Config) SetPlaintextNames() {
	c.PlaintextNames, c.WrappedNameKey, c.Version = true, nil, c.namesVersion(true)
	c.authenticated, c.macKey = false, nil // GenerateConfigKey gives it a MAC key
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
	c.Version, c.PlaintextNames, c.authenticated = c.namesVersion(false), false, true
	wk, err := c.wrapKey(ctx, w, key, nameKeyLabelAuth)
	if err != nil {
		return err
	}
	k, err := c.macKeyFrom(key) // the config is written with its MAC
	if err != nil {
		return err
	}
	c.WrappedNameKey, c.WrappedConfigKey, c.macKey = wk, nil, k
	return nil
}

// wrapKey wraps key for c under the AAD of label.
func (c *Config) wrapKey(ctx context.Context, w envelope.KeyWrapper, key []byte, label string) (*WrappedKey, error) {
	if _, err := c.volumeID(); err != nil {
		return nil, err
	}
	ref, wrapped, err := w.WrapKey(ctx, key, c.keyAAD(label))
	if err != nil {
		return nil, fmt.Errorf("volume: wrapping %s: %w", label[len("kmsfs v1 "):], err)
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
	if _, err := c.volumeID(); err != nil {
		return nil, err
	}
	key, err := ks.UnwrapKey(ctx, ref, wrapped, c.nameKeyAAD())
	if err != nil && c.authenticated && errors.Is(err, envelope.ErrUnauthenticated) {
		return nil, fmt.Errorf("%w: the name key does not unwrap (%s): %w", ErrConfigTampered, ref, err)
	}
	if err != nil {
		return nil, fmt.Errorf("volume: unwrapping name key (%s): %w", ref, err)
	}
	if len(key) != NameKeySize {
		clear(key)
		return nil, fmt.Errorf("%w: name key is %d bytes", ErrBadConfig, len(key))
	}
	if c.ConfigMAC != "" {
		if err := c.checkMAC(key); err != nil {
			clear(key)
			return nil, err
		}
	}
	return key, nil
}

// RewrapNameKey unwraps the name key with ks and wraps it again with w,
// which wraps under its master key's newest version (after a rotation,
// or for a re-key to another master key). If the key reference changed it
// saves the config atomically in the directory it was loaded from and
// reports changed. The name key itself never changes, so no file is
// renamed. A volume with plaintext names has nothing to rewrap.
//
// A plaintext-names volume's config key (FORMAT.md §15.4) is rewrapped
// the same way, if it has one.
func (c *Config) RewrapNameKey(ctx context.Context, ks envelope.KeyService, w envelope.KeyWrapper) (changed bool, err error) {
	if c.PlaintextNames {
		return c.rewrapConfigKey(ctx, ks, w)
	}
	if c.dir == "" {
		return false, ErrNoDir
	}
	key, err := c.NameKey(ctx, ks)
	if err != nil {
		return false, err
	}
	defer clear(key)
	label := nameKeyLabel
	if c.authenticated {
		label = nameKeyLabelAuth
	}
	wk, err := c.wrapKey(ctx, w, key, label)
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

// rewrapConfigKey is RewrapNameKey for a plaintext-names volume's config
// key; it checks the MAC on the way.
func (c *Config) rewrapConfigKey(ctx context.Context, ks envelope.KeyService, w envelope.KeyWrapper) (bool, error) {
	if c.WrappedConfigKey == nil {
		return false, nil
	}
	if c.dir == "" {
		return false, ErrNoDir
	}
	key, err := c.configKey(ctx, ks)
	if err != nil {
		return false, err
	}
	defer clear(key)
	if err := c.checkMAC(key); err != nil {
		return false, err
	}
	wk, err := c.wrapKey(ctx, w, key, configKeyLabel)
	if err != nil {
		return false, err
	}
	if wk.KeyId == c.WrappedConfigKey.KeyId && wk.Version == c.WrappedConfigKey.Version {
		return false, nil
	}
	old := c.WrappedConfigKey
	c.WrappedConfigKey = wk
	if err := c.Save(c.dir); err != nil {
		c.WrappedConfigKey = old
		return false, fmt.Errorf("volume: saving rewrapped config key: %w", err)
	}
	return true, nil
}
