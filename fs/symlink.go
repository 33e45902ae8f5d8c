package fs

import (
	"context"
	"errors"

	"github.com/kmsfs/kmsfs/internal/names"
)

// Symlink targets (docs/NAMES.md §10): with encrypted names the backing
// symlink holds base64url(nonce || AES-GCM(target) || tag); with
// plaintext names, the target marked with a MAC under the volume's link
// key (NAMES.md §10.1, linkkey.go). Either way a target the mount did not write
// does not authenticate, and readlink refuses it with EIO instead of
// letting the kernel follow a symlink planted in CipherDir out of the
// mount.

// encodeTarget returns what the backing symlink stores for target.
func (r *root) encodeTarget(ctx context.Context, target string) (string, error) {
	if r.nc != nil {
		return r.nc.EncryptTarget(target)
	}
	m, err := r.marker(ctx, true)
	if err != nil {
		return "", err
	}
	return m.MarkTarget(target)
}

// decodeTarget returns the target a program sees for the stored one. path
// is the link's plaintext path, for the log.
func (r *root) decodeTarget(ctx context.Context, stored []byte, path string) ([]byte, error) {
	if r.nc != nil {
		t, err := r.nc.DecryptTarget(string(stored))
		if err != nil {
			return nil, err
		}
		return []byte(t), nil
	}
	m, err := r.marker(ctx, false)
	if err != nil {
		return nil, err
	}
	if m == nil {
		// No symlink was ever made by a marking mount: none verifies.
		_, _, err = names.SplitMarkedTarget(string(stored))
		if err == nil {
			err = names.ErrUnauthenticated
		}
	} else {
		var t string
		if t, err = m.CheckTarget(string(stored)); err == nil {
			return []byte(t), nil
		}
	}
	if errors.Is(err, names.ErrUnmarkedTarget) && r.unmarkedLinks {
		if r.warned.first("link\x00" + path) {
			r.log.Warn("kmsfs: following an unmarked symlink (made before kmsfs marked symlinks, or planted in the cipher directory); "+
				"recreate it through the mount to mark it", "path", path)
		}
		return stored, nil
	}
	return nil, err
}

// linkSize returns the st_size a program sees for a symlink whose stored
// target is size bytes: the length of the target, which readlink(2)
// callers size their buffers by. It is computed from the encoding, which
// is exact for every target kmsfs wrote, without reading the link.
func (r *root) linkSize(size int64) int64 {
	if r.nc == nil {
		return max(size-int64(names.LinkMarkOverhead), 0)
	}
	sealed := size * 6 / 8 // unpadded base64: 4 characters per 3 bytes
	return max(sealed-names.SealOverhead, 0)
}
