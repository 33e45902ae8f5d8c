package keyspec

import "github.com/kmsfs/kmsfs/keyring"

// Sentinel errors of this package. Each wraps the keyring sentinel of the
// same AWS KMS exception name, so keyring.ErrorType names it.
var (
	// ErrInvalidKeyUsage is an operation or algorithm that the key's
	// KeyUsage or KeySpec does not allow (InvalidKeyUsageException).
	ErrInvalidKeyUsage error = sentinel{"keyspec: operation or algorithm not valid for this key's usage or spec", keyring.ErrInvalidKeyUsage}
	// ErrInvalidSignature is a signature that does not verify
	// (KMSInvalidSignatureException).
	ErrInvalidSignature error = sentinel{"keyspec: signature is not valid", keyring.ErrInvalidSignature}
	// ErrInvalidMac is a MAC that does not verify (KMSInvalidMacException).
	ErrInvalidMac error = sentinel{"keyspec: MAC is not valid", keyring.ErrInvalidMac}
	// ErrIncorrectKeyMaterial is imported key material that does not fit
	// the key's spec, or differs from the material imported before
	// (IncorrectKeyMaterialException).
	ErrIncorrectKeyMaterial error = sentinel{"keyspec: incorrect key material", keyring.ErrIncorrectKeyMaterial}
	// ErrExpiredImportToken is an import token past its validity
	// (ExpiredImportTokenException). Import tokens are the keyring's; this
	// package only defines the sentinel.
	ErrExpiredImportToken error = sentinel{"keyspec: import token expired", keyring.ErrExpiredImportToken}
	// ErrInvalidImportToken is an import token that is not one, or belongs
	// to another key (InvalidImportTokenException).
	ErrInvalidImportToken error = sentinel{"keyspec: invalid import token", keyring.ErrInvalidImportToken}
)

// sentinel is an error of this package that matches the keyring sentinel
// of the same AWS name with errors.Is, as policy.ErrMalformedPolicy does.
type sentinel struct {
	msg  string
	base error
}

func (e sentinel) Error() string { return e.msg }
func (e sentinel) Unwrap() error { return e.base }
