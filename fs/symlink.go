package fs

import "github.com/kmsfs/kmsfs/internal/names"

// Symlink targets (docs/NAMES.md §10): with encrypted names the backing
// symlink holds base64url(nonce || AES-GCM(target) || tag); with
// plaintext names, the target itself.

// encodeTarget returns what the backing symlink stores for target.
func (r *root) encodeTarget(target string) (string, error) {
	if r.nc == nil {
		return target, nil
	}
	return r.nc.EncryptTarget(target)
}

// decodeTarget returns the target a program sees for the stored one.
func (r *root) decodeTarget(stored []byte) ([]byte, error) {
	if r.nc == nil {
		return stored, nil
	}
	t, err := r.nc.DecryptTarget(string(stored))
	if err != nil {
		return nil, err
	}
	return []byte(t), nil
}

// linkSize returns the st_size a program sees for a symlink whose stored
// target is size bytes: the length of the target, which readlink(2)
// callers size their buffers by. It is computed from the encoding, which
// is exact for every target kmsfs wrote, without reading the link.
func (r *root) linkSize(size int64) int64 {
	if r.nc == nil {
		return size
	}
	sealed := size * 6 / 8 // unpadded base64: 4 characters per 3 bytes
	return max(sealed-names.SealOverhead, 0)
}
