package names

import "strings"

// Xattr layout, NAMES.md §11 and §12:
//
//	on-disk name  = "user.kmsfs." || base64url(EME(K_xn, tweak=0^16, pad(name)))
//	on-disk value = nonce (12) || GCM(K_xv, nonce, value,
//	                  ad = len(binding) (1) || binding || name) || tag (16)
const (
	// XattrPrefix starts every on-disk xattr name this package writes; it
	// keeps them in the user namespace. Others are not ours to decrypt.
	XattrPrefix = "user.kmsfs."
	// MaxXattrNameLen is the longest plaintext xattr name: its on-disk
	// name must fit in XATTR_NAME_MAX (255) bytes with the prefix.
	MaxXattrNameLen = 175
	// MaxBindingLen is the longest file binding for xattr values.
	MaxBindingLen = 255
)

// xattrTweak is the fixed EME tweak for xattr names: deterministic, so that
// getxattr can look a name up; the sub-key is separate from file names'.
var xattrTweak [DirIVSize]byte

// EncryptXattrName returns the on-disk name of the xattr name. The result is
// deterministic, and the same on every file. name must be 1 to
// [MaxXattrNameLen] bytes without NUL; the caller decides which namespaces
// (normally only "user.") it encrypts.
func (c *Codec) EncryptXattrName(name string) (string, error) {
	if c.xattrName == nil {
		return "", ErrClosed
	}
	if err := checkXattrName(name); err != nil {
		return "", err
	}
	return XattrPrefix + b64.EncodeToString(c.xattrName.Encrypt(xattrTweak[:], pad([]byte(name)))), nil
}

// DecryptXattrName reverses EncryptXattrName. Names without [XattrPrefix]
// or that do not decrypt fail with [ErrBadName].
func (c *Codec) DecryptXattrName(enc string) (string, error) {
	if c.xattrName == nil {
		return "", ErrClosed
	}
	rest, ok := strings.CutPrefix(enc, XattrPrefix)
	if !ok {
		return "", ErrBadName
	}
	ct, ok := decodeName(rest)
	if !ok {
		return "", ErrBadName
	}
	plain, ok := unpad(c.xattrName.Decrypt(xattrTweak[:], ct))
	if !ok || checkXattrName(string(plain)) != nil {
		return "", ErrBadName
	}
	return string(plain), nil
}

// checkXattrName enforces NAMES.md §11 on a plaintext xattr name.
func checkXattrName(name string) error {
	switch {
	case len(name) > MaxXattrNameLen:
		return ErrTooLong
	case name == "" || strings.ContainsRune(name, 0):
		return ErrBadName
	}
	return nil
}

// SealXattrValue encrypts an xattr value bound to fileID (an
// inode-independent identity of the file, such as its 16-byte envelope file
// ID) and to the plaintext xattr name, so that a value cannot be moved to
// another file or another name.
func (c *Codec) SealXattrValue(fileID []byte, name string, value []byte) ([]byte, error) {
	if c.xattrValue == nil {
		return nil, ErrClosed
	}
	ad, err := xattrAD(fileID, name)
	if err != nil {
		return nil, err
	}
	return seal(c.xattrValue, value, ad), nil
}

// OpenXattrValue reverses SealXattrValue. A value sealed for another file,
// another name, or modified in any way fails with [ErrUnauthenticated].
func (c *Codec) OpenXattrValue(fileID []byte, name string, sealed []byte) ([]byte, error) {
	if c.xattrValue == nil {
		return nil, ErrClosed
	}
	ad, err := xattrAD(fileID, name)
	if err != nil {
		return nil, err
	}
	return open(c.xattrValue, sealed, ad)
}

// xattrAD builds len(fileID) || fileID || name. The length prefix keeps
// ("ab", "c") and ("a", "bc") apart.
func xattrAD(fileID []byte, name string) ([]byte, error) {
	if len(fileID) == 0 || len(fileID) > MaxBindingLen {
		return nil, ErrBadBinding
	}
	ad := make([]byte, 0, 1+len(fileID)+len(name))
	ad = append(ad, byte(len(fileID)))
	ad = append(ad, fileID...)
	return append(ad, name...), nil
}
