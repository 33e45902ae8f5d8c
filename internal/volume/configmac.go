package volume

// Config MAC (FORMAT.md §15.4): the security-relevant fields of kmsfs.conf
// are bound by HMAC-SHA-256 under a key only the key service can produce:
//
//	root    = the name key (encrypted names), or the config key, 32 random
//	          bytes wrapped like the name key with label "kmsfs v1 config key"
//	          (plaintext names)
//	K_mac   = HKDF-SHA-256(ikm=root, salt=VolumeID [16], info="kmsfs v1 config MAC")
//	ConfigMAC = hex(HMAC-SHA-256(K_mac, encoding))
//	encoding = "kmsfs v1 config" || Version u32 || VolumeID [16] || str(KeyId)
//	           || ChunkSize u32 || PlaintextNames u8 || KMS present u8
//	           [|| str(KMS.Endpoint) || str(KMS.KeyArn) || str(KMS.Region)]
//	str(s)   = len(s) u32 || s

import (
	"context"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/kmsfs/kmsfs/envelope"
	"github.com/kmsfs/kmsfs/internal/names"
)

// Labels of the config MAC (FORMAT.md §15.4).
const (
	configKeyLabel      = "kmsfs v1 config key"
	configMACInfo       = "kmsfs v1 config MAC"
	configEncodingLabel = "kmsfs v1 config"
	configKeySize       = 32
)

var (
	// ErrConfigTampered reports a kmsfs.conf whose fields do not match its
	// MAC, or whose MAC key does not unwrap: it was edited (names switched
	// to plaintext, chunk size, key or KMS changed) or damaged. The volume
	// is not mounted.
	ErrConfigTampered = errors.New("volume: " + ConfigName + " fails authentication (edited or damaged; restore it from a backup)")
	// ErrNoConfigMAC reports a config written before config MACs: its
	// fields are not authenticated until Upgrade adds the MAC (the first
	// read-write mount does).
	ErrNoConfigMAC = errors.New("volume: " + ConfigName + " has no MAC yet (written before config MACs)")
)

// encodeFields returns the canonical encoding of c's authenticated fields.
func (c *Config) encodeFields() ([]byte, error) {
	id, err := c.volumeID()
	if err != nil {
		return nil, err
	}
	str := func(b []byte, s string) []byte { return append(binary.BigEndian.AppendUint32(b, uint32(len(s))), s...) }
	b := append([]byte(configEncodingLabel), 0, 0, 0, 0)
	binary.BigEndian.PutUint32(b[len(configEncodingLabel):], uint32(c.Version))
	b = str(append(b, id...), c.KeyId)
	b = binary.BigEndian.AppendUint32(b, uint32(c.ChunkSize))
	b = append(b, boolByte(c.PlaintextNames), boolByte(c.KMS != nil))
	if c.KMS != nil {
		b = str(str(str(b, c.KMS.Endpoint), c.KMS.KeyArn), c.KMS.Region)
	}
	return b, nil
}

func boolByte(v bool) byte {
	if v {
		return 1
	}
	return 0
}

// macKeyFrom derives K_mac from the root key.
func (c *Config) macKeyFrom(root []byte) ([]byte, error) {
	id, err := c.volumeID()
	if err != nil {
		return nil, err
	}
	return hkdf.Key(sha256.New, root, id, configMACInfo, sha256.Size)
}

// macOf returns HMAC-SHA-256(macKey, encoding).
func (c *Config) macOf(macKey []byte) ([]byte, error) {
	enc, err := c.encodeFields()
	if err != nil {
		return nil, err
	}
	m := hmac.New(sha256.New, macKey)
	m.Write(enc)
	return m.Sum(nil), nil
}

// computeMAC returns hex(HMAC-SHA-256(macKey, encoding)), as ConfigMAC
// holds it.
func (c *Config) computeMAC(macKey []byte) (string, error) {
	sum, err := c.macOf(macKey)
	return hex.EncodeToString(sum), err
}

// checkMAC verifies ConfigMAC under the root key and keeps K_mac, so that
// Save can MAC fields changed later (a rewrap to another key).
func (c *Config) checkMAC(root []byte) error {
	k, err := c.macKeyFrom(root)
	if err != nil {
		return err
	}
	want, err := c.macOf(k)
	if err != nil {
		return err
	}
	got, derr := hex.DecodeString(c.ConfigMAC)
	if derr != nil || !hmac.Equal(got, want) {
		clear(k)
		return fmt.Errorf("%w: the MAC does not match the fields", ErrConfigTampered)
	}
	c.macKey = k
	return nil
}

// Authenticate checks the config MAC with ks (FORMAT.md §15.4): it
// unwraps the name key or the config key and compares the MAC of the
// fields. A config written before config MACs gives ErrNoConfigMAC (see
// Upgrade); one edited or damaged, an error wrapping ErrConfigTampered.
func (c *Config) Authenticate(ctx context.Context, ks envelope.KeyService) error {
	if c.ConfigMAC == "" {
		return ErrNoConfigMAC
	}
	if !c.PlaintextNames {
		key, err := c.NameKey(ctx, ks) // checks the MAC
		clear(key)
		return err
	}
	key, err := c.configKey(ctx, ks)
	if err != nil {
		return err
	}
	defer clear(key)
	return c.checkMAC(key)
}

// configKey unwraps the config key of a plaintext-names volume.
func (c *Config) configKey(ctx context.Context, ks envelope.KeyService) ([]byte, error) {
	if c.WrappedConfigKey == nil {
		return nil, fmt.Errorf("%w: a MAC without a config key", ErrConfigTampered)
	}
	ref, wrapped, err := c.WrappedConfigKey.parse(c.IsKMS())
	if err != nil {
		return nil, err
	}
	key, err := ks.UnwrapKey(ctx, ref, wrapped, c.keyAAD(configKeyLabel))
	if errors.Is(err, envelope.ErrUnauthenticated) {
		return nil, fmt.Errorf("%w: the config key does not unwrap (%s): %w", ErrConfigTampered, ref, err)
	}
	if err != nil {
		return nil, fmt.Errorf("volume: unwrapping config key (%s): %w", ref, err)
	}
	if len(key) != configKeySize {
		clear(key)
		return nil, fmt.Errorf("%w: config key is %d bytes", ErrConfigTampered, len(key))
	}
	return key, nil
}

// GenerateConfigKey gives a plaintext-names config (SetPlaintextNames) a
// fresh config key wrapped by w, so that it is written with its MAC.
func (c *Config) GenerateConfigKey(ctx context.Context, w envelope.KeyWrapper) error {
	if !c.PlaintextNames {
		return fmt.Errorf("%w: a config key is for plaintext names (the name key MACs this config)", ErrBadConfig)
	}
	key := make([]byte, configKeySize)
	defer clear(key)
	if _, err := rand.Read(key); err != nil {
		return fmt.Errorf("volume: config key: %w", err)
	}
	wk, err := c.wrapKey(ctx, w, key, configKeyLabel)
	if err != nil {
		return err
	}
	k, err := c.macKeyFrom(key)
	if err != nil {
		return err
	}
	c.WrappedConfigKey, c.macKey, c.authenticated = wk, k, true
	return nil
}

// Upgrade adds the MAC to a config written before config MACs and saves
// it where it was loaded from (FORMAT.md §15.4): a plaintext-names volume
// gets a config key wrapped by ks; an encrypted-names volume's name key
// is rewrapped under the authenticated label, so that a config stripped
// of its MAC afterwards no longer unwraps it. A plaintext-names config
// over a directory that has the root IV of encrypted names is refused as
// tampered (names were switched to plaintext).
func (c *Config) Upgrade(ctx context.Context, ks envelope.KeyService) error {
	switch {
	case c.ConfigMAC != "":
		return nil
	case c.dir == "":
		return ErrNoDir
	}
	if c.PlaintextNames {
		if _, err := os.Lstat(filepath.Join(c.dir, names.DirIVFile)); err == nil {
			return fmt.Errorf("%w: plaintext names over a directory with the root %s of encrypted names", ErrConfigTampered, names.DirIVFile)
		}
		if err := c.GenerateConfigKey(ctx, ks); err != nil {
			return err
		}
	} else if err := c.upgradeNameKey(ctx, ks); err != nil {
		return err
	}
	if err := c.Save(c.dir); err != nil {
		return fmt.Errorf("volume: saving the config MAC: %w", err)
	}
	return nil
}

// upgradeNameKey rewraps the name key under the authenticated label and
// derives K_mac from it.
func (c *Config) upgradeNameKey(ctx context.Context, ks envelope.KeyService) error {
	key, err := c.NameKey(ctx, ks)
	if errors.Is(err, envelope.ErrUnauthenticated) {
		// An upgraded config stripped of its MAC lands here: its name key
		// is wrapped under the authenticated label.
		return fmt.Errorf("%w: without a MAC, the name key must unwrap under the old label: %w", ErrConfigTampered, err)
	}
	if err != nil {
		return err
	}
	defer clear(key)
	c.authenticated = true
	wk, err := c.wrapKey(ctx, ks, key, nameKeyLabelAuth)
	if err != nil {
		c.authenticated = false
		return err
	}
	k, err := c.macKeyFrom(key)
	if err != nil {
		return err
	}
	c.WrappedNameKey, c.macKey = wk, k
	return nil
}

// sealMAC sets ConfigMAC before a write: from K_mac if known; otherwise
// the fields must be those the MAC was loaded with.
func (c *Config) sealMAC() error {
	if c.macKey != nil {
		mac, err := c.computeMAC(c.macKey)
		c.ConfigMAC = mac
		return err
	}
	if c.ConfigMAC == "" {
		return nil
	}
	enc, err := c.encodeFields()
	if err != nil {
		return err
	}
	if string(enc) != string(c.loadedFields) {
		return fmt.Errorf("%w: fields changed, but the MAC key was not unwrapped (Authenticate first)", ErrBadConfig)
	}
	return nil
}
