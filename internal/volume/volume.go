// Package volume reads and writes the configuration of an encrypted
// directory (CIPHERDIR/kmsfs.conf): which master key wraps its data keys,
// the chunk size, and which features are on. The config holds no secret;
// keys stay in the keyring.
package volume

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/kmsfs/kmsfs/envelope"
)

// ConfigName is the config file's name inside CIPHERDIR. The mount hides it.
const ConfigName = "kmsfs.conf"

// ConfigVersion is the version of the config layout written by this code.
const ConfigVersion = 1

// Errors returned by Load.
var (
	ErrNotInitialised = errors.New("volume: not a kmsfs directory (no " + ConfigName + "; run kmsfs init)")
	ErrBadConfig      = errors.New("volume: config is invalid")
	ErrExists         = errors.New("volume: directory is already initialised")
)

// Config is the JSON content of kmsfs.conf.
type Config struct {
	Version   int
	VolumeID  string // 16 random bytes, hex; names this tree in logs and binds its name key
	KeyId     string // master key ID (UUID) that wraps new data keys
	KeyAlias  string `json:",omitempty"` // the alias given at init, for humans
	ChunkSize int    // plaintext bytes per chunk of every file
	// PlaintextNames is true when file names are stored as they are.
	PlaintextNames bool
}

// New returns a config for a fresh volume.
func New(keyID, alias string, chunkSize int) (*Config, error) {
	var id [16]byte
	if _, err := rand.Read(id[:]); err != nil {
		return nil, err
	}
	c := &Config{
		Version:        ConfigVersion,
		VolumeID:       hex.EncodeToString(id[:]),
		KeyId:          keyID,
		KeyAlias:       alias,
		ChunkSize:      chunkSize,
		PlaintextNames: true,
	}
	return c, c.validate()
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
		return nil, fmt.Errorf("%s: %w: %v", cipherDir, ErrBadConfig, err)
	}
	if err := c.validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", cipherDir, err)
	}
	return &c, nil
}

func (c *Config) validate() error {
	switch {
	case c.Version != ConfigVersion:
		return fmt.Errorf("%w: unsupported version %d", ErrBadConfig, c.Version)
	case c.KeyId == "":
		return fmt.Errorf("%w: no KeyId", ErrBadConfig)
	case c.ChunkSize < envelope.MinChunkSize || c.ChunkSize > envelope.MaxChunkSize || c.ChunkSize&(c.ChunkSize-1) != 0:
		return fmt.Errorf("%w: chunk size %d is not a power of two in [%d, %d]", ErrBadConfig, c.ChunkSize, envelope.MinChunkSize, envelope.MaxChunkSize)
	case len(c.VolumeID) != 32:
		return fmt.Errorf("%w: bad VolumeID", ErrBadConfig)
	}
	return nil
}

// Create writes c as CIPHERDIR's config, refusing to replace an existing one.
// The write is atomic (temporary file, fsync, rename), so a crash never leaves
// a half-written config.
func (c *Config) Create(cipherDir string) error {
	path := filepath.Join(cipherDir, ConfigName)
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("%s: %w", cipherDir, ErrExists)
	}
	return c.write(path)
}

// Save replaces CIPHERDIR's config atomically.
func (c *Config) Save(cipherDir string) error {
	return c.write(filepath.Join(cipherDir, ConfigName))
}

func (c *Config) write(path string) error {
	if err := c.validate(); err != nil {
		return err
	}
	b, err := json.MarshalIndent(c, "", "\t")
	if err != nil {
		return err
	}
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
	return syncDir(filepath.Dir(path))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
