// Package volume reads and writes the configuration of an encrypted
// directory (CIPHERDIR/kmsfs.conf): which master key wraps its data keys,
// the chunk size, which features are on, and the volume's name key wrapped
// by the master key (docs/NAMES.md §2.1). The config holds no secret in
// clear; keys stay in the keyring.
package volume

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"

	"github.com/kmsfs/kmsfs/envelope"
	"github.com/kmsfs/kmsfs/internal/fsutil"
)

// ConfigName is the config file's name inside CIPHERDIR. The mount hides it.
const ConfigName = "kmsfs.conf"

// DefaultChunkSize is the chunk size kmsfs init gives a new volume unless
// told otherwise: at 16 KiB a 4 KiB random read or write seals or opens
// 16 KiB instead of 64 KiB, and sequential I/O costs about what it does at
// 64 KiB (docs/DECISIONS.md, "Chunk size"). A volume keeps the chunk size
// its config records, so volumes made with 64 KiB chunks (the default
// before issue 10, and still envelope.DefaultChunkSize) keep theirs.
// kmsfs encrypt uses it too, so that its output fits a new volume.
const DefaultChunkSize = 16 << 10

// Config versions. Version 1 stores names as they are. Version 2 adds the
// wrapped name key; a binary that knows only version 1 refuses it instead
// of mounting an encrypted-names volume with plaintext names. Version 3 is
// a volume whose key lives in a remote KMS (Config.KMS), with plaintext or
// encrypted names; a binary that knows only versions 1 and 2 refuses it
// instead of looking for its key in a local keyring.
const (
	ConfigVersionPlainNames = 1
	ConfigVersion           = 2
	ConfigVersionKMS        = 3
)

// Errors returned by Load and the name key functions.
var (
	ErrNotInitialised = errors.New("volume: not a kmsfs directory (no " + ConfigName + "; run kmsfs init)")
	ErrBadConfig      = errors.New("volume: config is invalid")
	ErrExists         = errors.New("volume: directory is already initialised")
	// ErrPlaintextNames is returned by NameKey for a volume whose names
	// are not encrypted: it has no name key.
	ErrPlaintextNames = errors.New("volume: names are not encrypted on this volume")
	// ErrNoDir is returned by RewrapNameKey for a config that was neither
	// loaded from nor written to a directory, so it cannot be saved.
	ErrNoDir = errors.New("volume: config has no directory to be saved in")
)

// Config is the JSON content of kmsfs.conf.
type Config struct {
	Version   int
	VolumeID  string // 16 random bytes, hex; names this tree in logs and binds its name key
	KeyId     string // master key ID (UUID) that wraps new data keys
	KeyAlias  string `json:",omitempty"` // the alias given at init, for humans
	ChunkSize int    // plaintext bytes per chunk of every file
	// PlaintextNames is true when file names, symlink targets and xattrs
	// are stored as they are (kmsfs init --plaintext-names, and every
	// version 1 volume); false when they are encrypted with the name key.
	PlaintextNames bool
	// WrappedNameKey is the volume's name key wrapped by a master key, set when
	// names are encrypted (docs/NAMES.md §2.1).
	WrappedNameKey *WrappedKey `json:",omitempty"`
	// KMS says which remote KMS holds the volume's key; nil for a volume
	// under a local keyring. Set with SetKMS.
	KMS *KMS `json:",omitempty"`
	// WrappedConfigKey is the key of the config MAC of a plaintext-names
	// volume, wrapped like the name key (FORMAT.md §15.4); an
	// encrypted-names volume's MAC key comes from its name key.
	WrappedConfigKey *WrappedKey `json:",omitempty"`
	// ConfigMAC authenticates the fields above that matter (FORMAT.md
	// §15.4), hex; empty in a config written before config MACs.
	ConfigMAC string `json:",omitempty"`

	dir           string // where Load read or Create/Save wrote the config
	authenticated bool   // the name key is wrapped under the authenticated label (NAMES.md §2.1)
	macKey        []byte // K_mac, once unwrapped or generated
	loadedFields  []byte // the encoding of the fields as loaded
}

// New returns a config for a fresh volume with encrypted names. Before it
// can be written it needs a name key (GenerateNameKey), or plaintext names
// (SetPlaintextNames).
func New(keyID, alias string, chunkSize int) (*Config, error) {
	var id [16]byte
	if _, err := rand.Read(id[:]); err != nil {
		return nil, err
	}
	c := &Config{
		Version:   ConfigVersion,
		VolumeID:  hex.EncodeToString(id[:]),
		KeyId:     keyID,
		KeyAlias:  alias,
		ChunkSize: chunkSize,
	}
	return c, c.validateBase()
}

// Load reads and checks CIPHERDIR's config.
func Load(cipherDir string) (*Config, error) {
	b, err := os.ReadFile(filepath.Join(cipherDir, ConfigName))
	if errors.Is(err, os.ErrNotExist) {
		if _, serr := os.Stat(cipherDir); serr != nil {
			return nil, fmt.Errorf("%s: %w", cipherDir, serr)
		}
		return nil, fmt.Errorf("%s: %w", cipherDir, ErrNotInitialised)
	}
	if err != nil {
		return nil, err
	}
	var c Config
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("%s: %w: %w", cipherDir, ErrBadConfig, err)
	}
	if err := c.validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", cipherDir, err)
	}
	c.dir, c.authenticated = cipherDir, c.ConfigMAC != ""
	if c.loadedFields, err = c.encodeFields(); err != nil {
		return nil, fmt.Errorf("%s: %w", cipherDir, err)
	}
	return &c, nil
}

// KMS is where a remote-KMS volume's key lives (FORMAT.md §5.4): enough
// to reach it, never a credential. Credentials come from the AWS
// environment of the process that mounts (variables, shared config and
// profiles, an instance role).
type KMS struct {
	// Endpoint is the base URL of an AWS-KMS-compatible service (kmsfs
	// serve); empty means AWS KMS itself.
	Endpoint string `json:",omitempty"`
	// KeyArn is the key's ARN as DescribeKey returned it at init.
	KeyArn string
	// Region is the signing region; empty takes the AWS configuration's.
	Region string `json:",omitempty"`
}

// validate refuses a KMS section that could not be used, or that would
// put a credential in the config (a URL with user information).
func (k *KMS) validate() error {
	if k.KeyArn == "" {
		return fmt.Errorf("%w: KMS without KeyArn", ErrBadConfig)
	}
	if k.Endpoint == "" {
		return nil
	}
	u, err := url.Parse(k.Endpoint)
	switch {
	case err != nil, u.Scheme != "http" && u.Scheme != "https", u.Host == "":
		return fmt.Errorf("%w: KMS endpoint is not an http(s) URL", ErrBadConfig)
	case u.User != nil:
		return fmt.Errorf("%w: KMS endpoint carries user information; credentials never go in %s", ErrBadConfig, ConfigName)
	}
	return nil
}

// SetKMS makes c a remote-KMS volume (config version 3) whose key is k.
// It comes before GenerateNameKey, since the name key's wrap binds the
// config version (docs/NAMES.md §2.1): with a name key it fails.
func (c *Config) SetKMS(k KMS) error {
	if err := k.validate(); err != nil {
		return err
	}
	if c.WrappedNameKey != nil || c.WrappedConfigKey != nil {
		return fmt.Errorf("%w: SetKMS after the name or config key was wrapped", ErrBadConfig)
	}
	c.KMS, c.Version = &k, ConfigVersionKMS
	return nil
}

// IsKMS reports whether the volume's key lives in a remote KMS.
func (c *Config) IsKMS() bool { return c.KMS != nil }

// validateBase checks what every config needs, with or without a name key.
func (c *Config) validateBase() error {
	switch {
	case c.Version != ConfigVersion && c.Version != ConfigVersionPlainNames && c.Version != ConfigVersionKMS:
		return fmt.Errorf("%w: unsupported version %d", ErrBadConfig, c.Version)
	case (c.Version == ConfigVersionKMS) != (c.KMS != nil):
		return fmt.Errorf("%w: version %d with KMS section %v", ErrBadConfig, c.Version, c.KMS != nil)
	case c.KeyId == "":
		return fmt.Errorf("%w: no KeyId", ErrBadConfig)
	case c.ChunkSize < envelope.MinChunkSize || c.ChunkSize > envelope.MaxChunkSize || c.ChunkSize&(c.ChunkSize-1) != 0:
		return fmt.Errorf("%w: chunk size %d is not a power of two in [%d, %d]", ErrBadConfig, c.ChunkSize, envelope.MinChunkSize, envelope.MaxChunkSize)
	}
	if c.KMS != nil {
		if err := c.KMS.validate(); err != nil {
			return err
		}
	}
	if _, err := c.volumeID(); err != nil {
		return err
	}
	return nil
}

// validate checks a complete config: a version 1 volume stores names as
// they are, an encrypted-names volume has a well-formed wrapped name key
// and a plaintext-names one has none.
func (c *Config) validate() error {
	if err := c.validateBase(); err != nil {
		return err
	}
	switch {
	case c.Version == ConfigVersionPlainNames && !c.PlaintextNames:
		return fmt.Errorf("%w: version %d volumes store plaintext names", ErrBadConfig, c.Version)
	case c.PlaintextNames && c.WrappedNameKey != nil:
		return fmt.Errorf("%w: plaintext names with a name key", ErrBadConfig)
	case !c.PlaintextNames && c.WrappedNameKey == nil:
		return fmt.Errorf("%w: encrypted names without a name key", ErrBadConfig)
	case c.WrappedNameKey != nil:
		if _, _, err := c.WrappedNameKey.parse(c.IsKMS()); err != nil {
			return err
		}
	}
	return c.validateMAC()
}

// validateMAC checks the form of the config MAC's members (FORMAT.md
// §15.4); whether they authenticate needs the key service (Authenticate).
func (c *Config) validateMAC() error {
	if c.WrappedConfigKey != nil {
		if !c.PlaintextNames {
			return fmt.Errorf("%w: a config key with encrypted names", ErrConfigTampered)
		}
		if _, _, err := c.WrappedConfigKey.parse(c.IsKMS()); err != nil {
			return err
		}
	}
	if b, err := hex.DecodeString(c.ConfigMAC); c.ConfigMAC != "" && (err != nil || len(b) != sha256.Size) {
		return fmt.Errorf("%w: malformed ConfigMAC", ErrConfigTampered)
	}
	return nil
}

// volumeID returns the 16 bytes of VolumeID.
func (c *Config) volumeID() ([]byte, error) {
	id, err := hex.DecodeString(c.VolumeID)
	if err != nil || len(id) != 16 {
		return nil, fmt.Errorf("%w: bad VolumeID", ErrBadConfig)
	}
	return id, nil
}

// Create writes c as CIPHERDIR's config, refusing to replace an existing one.
// The write is atomic (temporary file, fsync, rename), so a crash never leaves
// a half-written config.
func (c *Config) Create(cipherDir string) error {
	path := filepath.Join(cipherDir, ConfigName)
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("%s: %w", cipherDir, ErrExists)
	}
	return c.write(cipherDir)
}

// Save replaces CIPHERDIR's config atomically.
func (c *Config) Save(cipherDir string) error {
	return c.write(cipherDir)
}

func (c *Config) write(cipherDir string) error {
	if err := c.validate(); err != nil {
		return err
	}
	if err := c.sealMAC(); err != nil {
		return err
	}
	b, err := json.MarshalIndent(c, "", "\t")
	if err != nil {
		return err
	}
	path := filepath.Join(cipherDir, ConfigName)
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(append(b, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	c.dir = cipherDir
	if enc, err := c.encodeFields(); err == nil {
		c.loadedFields = enc
	}
	return fsutil.SyncDir(cipherDir)
}
