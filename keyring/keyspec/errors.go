package keyspec

import "errors"

// Sentinel errors this package adds to keyring's. Each maps to one AWS KMS
// exception name; keyring's error table must list them (see doc.go).
var (
	// ErrInvalidKeyUsage is an operation or algorithm that the key's
	// KeyUsage or KeySpec does not allow (InvalidKeyUsageException).
	ErrInvalidKeyUsage = errors.New("keyspec: operation or algorithm not valid for this key's usage or spec")
	// ErrInvalidSignature is a signature that does not verify
	// (KMSInvalidSignatureException).
	ErrInvalidSignature = errors.New("keyspec: signature is not valid")
	// ErrInvalidMac is a MAC that does not verify (KMSInvalidMacException).
	ErrInvalidMac = errors.New("keyspec: MAC is not valid")
	// ErrIncorrectKeyMaterial is imported key material that does not fit
	// the key's spec, or differs from the material imported before
	// (IncorrectKeyMaterialException).
	ErrIncorrectKeyMaterial = errors.New("keyspec: incorrect key material")
	// ErrExpiredImportToken is an import token past its validity
	// (ExpiredImportTokenException). Import tokens are the keyring's; this
	// package only defines the sentinel.
	ErrExpiredImportToken = errors.New("keyspec: import token expired")
	// ErrInvalidImportToken is an import token that is not one, or belongs
	// to another key (InvalidImportTokenException).
	ErrInvalidImportToken = errors.New("keyspec: invalid import token")
)
