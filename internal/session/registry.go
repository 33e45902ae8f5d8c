package session

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/kmsfs/kmsfs/internal/fsutil"
	"golang.org/x/sys/unix"
)

// The registry of known volumes is a JSON list of absolute CIPHERDIR
// paths in <keyringDir>.volumes (mode 0600). `kmsfs init` and `kmsfs
// mount` add to it; `kmsfs key min-version` and `destroy-versions` scan
// every volume it lists before retiring a key version. It is beside the
// keyring directory, like the keyring socket, because Badger owns the
// directory itself.

// ErrBadRegistry reports a registry file that is not a JSON list of paths.
var ErrBadRegistry = errors.New("session: volume registry is not a JSON list of paths")

// RegistryPath returns the registry file of the keyring in keyringDir.
func RegistryPath(keyringDir string) string {
	return filepath.Clean(keyringDir) + ".volumes"
}

// KnownVolumes returns the registered CIPHERDIRs, sorted. A missing
// registry is an empty one.
func KnownVolumes(keyringDir string) ([]string, error) {
	b, err := os.ReadFile(RegistryPath(keyringDir))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("session: %w", err)
	}
	return parseRegistry(b)
}

// parseRegistry decodes a registry: a JSON list of absolute paths.
func parseRegistry(b []byte) ([]string, error) {
	var dirs []string
	if err := json.Unmarshal(b, &dirs); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadRegistry, err)
	}
	for _, d := range dirs {
		if !filepath.IsAbs(d) {
			return nil, fmt.Errorf("%w: %q is not absolute", ErrBadRegistry, d)
		}
	}
	slices.Sort(dirs)
	return slices.Compact(dirs), nil
}

// RegisterVolume adds cipherDir (made absolute and symlink-free) to the
// registry of the keyring in keyringDir, if it is not there yet. Writers
// are serialised by an flock on <registry>.lock, and the file is replaced
// atomically (temporary file, fsync, rename, directory fsync), so a crash
// leaves the old or the new list, never a torn one.
func RegisterVolume(keyringDir, cipherDir string) error {
	dir, err := CanonicalDir(cipherDir)
	if err != nil {
		return err
	}
	path := RegistryPath(keyringDir)
	unlock, err := lockFile(path + ".lock")
	if err != nil {
		return err
	}
	defer unlock()
	dirs, err := KnownVolumes(keyringDir)
	if err != nil {
		return err
	}
	if slices.Contains(dirs, dir) {
		return nil
	}
	dirs = append(dirs, dir)
	slices.Sort(dirs)
	b, err := json.MarshalIndent(dirs, "", "\t")
	if err != nil {
		return err
	}
	return fsutil.WriteFile(path, append(b, '\n'), 0o600)
}

// lockFile takes an exclusive flock on path, creating it (0600).
func lockFile(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("session: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("session: locking %s: %w", path, err)
	}
	return func() { f.Close() }, nil
}
