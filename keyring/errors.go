package keyring

import (
	"errors"
	"slices"
)

// Sentinel errors. Each maps to one AWS KMS exception name ([ErrorType]) so
// that errors survive a trip over the wire ([ErrorFromType]).
var (
	ErrNotFound          = errors.New("keyring: key or alias not found")
	ErrDisabled          = errors.New("keyring: key is disabled")
	ErrInvalidState      = errors.New("keyring: key state does not allow this operation")
	ErrInvalidCiphertext = errors.New("keyring: ciphertext authentication failed")
	ErrIncorrectKey      = errors.New("keyring: ciphertext was not encrypted under the given key")
	ErrAlreadyExists     = errors.New("keyring: already exists")
	ErrInvalidAliasName  = errors.New("keyring: invalid alias name")
	ErrValidation        = errors.New("keyring: invalid request")
	ErrUnsupported       = errors.New("keyring: unsupported operation")
	ErrWrongPassphrase   = errors.New("keyring: wrong passphrase")
	ErrLocked            = errors.New("keyring: keyring is in use by another process")
	ErrVersionRetired    = errors.New("keyring: key version is below the minimum decryption version")
	ErrInternal          = errors.New("keyring: internal error")
	// ErrInvalidMarker is a listing's Marker that no listing returned as
	// NextMarker (AWS's InvalidMarkerException).
	ErrInvalidMarker = errors.New("keyring: invalid pagination marker")
	// ErrMalformedPolicy is a key policy that is not a policy document
	// (AWS's MalformedPolicyDocumentException).
	ErrMalformedPolicy = errors.New("keyring: malformed policy document")
	// ErrTag is a tag AWS refuses: a key or value too long, a reserved
	// "aws:" prefix (AWS's TagException).
	ErrTag = errors.New("keyring: invalid tag")
	// ErrLimitExceeded is a request over a per-key limit: tags, grants
	// (AWS's LimitExceededException).
	ErrLimitExceeded = errors.New("keyring: limit exceeded")
	// ErrThrottling is a request refused because too many passphrase
	// derivations are running or waiting (AWS's ThrottlingException, which
	// SDKs retry).
	ErrThrottling = errors.New("keyring: too many concurrent passphrase checks")
	// ErrInvalidGrantToken is a grant token that is not one
	// (InvalidGrantTokenException).
	ErrInvalidGrantToken = errors.New("keyring: invalid grant token")
	// ErrInvalidGrantID is a grant ID that is not one, or names no grant of
	// the key (InvalidGrantIdException).
	ErrInvalidGrantID = errors.New("keyring: invalid grant ID")
	// ErrInvalidArn is a principal or resource that is not a valid ARN
	// (InvalidArnException).
	ErrInvalidArn = errors.New("keyring: invalid ARN")
	// ErrInvalidKeyUsage is an operation or algorithm the key's KeyUsage
	// or KeySpec does not allow (InvalidKeyUsageException).
	ErrInvalidKeyUsage = errors.New("keyring: operation not valid for the key's usage")
	// ErrInvalidSignature is a signature that does not verify
	// (KMSInvalidSignatureException).
	ErrInvalidSignature = errors.New("keyring: signature is not valid")
	// ErrInvalidMac is a MAC that does not verify (KMSInvalidMacException).
	ErrInvalidMac = errors.New("keyring: MAC is not valid")
	// ErrIncorrectKeyMaterial is imported key material that does not fit
	// the key, or differs from what was imported before
	// (IncorrectKeyMaterialException).
	ErrIncorrectKeyMaterial = errors.New("keyring: incorrect key material")
	// ErrExpiredImportToken is an import token past its 24 hours
	// (ExpiredImportTokenException).
	ErrExpiredImportToken = errors.New("keyring: import token expired")
	// ErrInvalidImportToken is an import token that is not one, or belongs
	// to another key (InvalidImportTokenException).
	ErrInvalidImportToken = errors.New("keyring: invalid import token")
	// Custom key stores are out of scope (issue 9): their operations
	// answer what a real account without any gets.
	//
	// ErrCustomKeyStoreNotFound is a custom key store ID or name that
	// names none (CustomKeyStoreNotFoundException).
	ErrCustomKeyStoreNotFound = errors.New("keyring: custom key store not found")
	// ErrCloudHsmClusterNotFound is a CloudHSM cluster ID that names no
	// cluster of the account (CloudHsmClusterNotFoundException).
	ErrCloudHsmClusterNotFound = errors.New("keyring: CloudHSM cluster not found")
	// ErrXksProxyUriUnreachable is an external key store proxy that cannot
	// be reached (XksProxyUriUnreachableException).
	ErrXksProxyUriUnreachable = errors.New("keyring: external key store proxy unreachable")
	// ErrXksProxyVpcEndpointServiceNotFound is an external key store's VPC
	// endpoint service that cannot be found
	// (XksProxyVpcEndpointServiceNotFoundException).
	ErrXksProxyVpcEndpointServiceNotFound = errors.New("keyring: VPC endpoint service not found")
)

// serverFaults are the sentinels ErrorType reports as server errors (HTTP
// 500): an internal failure, and a keyring busy in another process, which
// AWS SDKs retry as DependencyTimeoutException only when it is a 5xx.
var serverFaults = []error{ErrInternal, ErrLocked}

var errorTypes = []struct {
	err  error
	name string
}{
	{ErrNotFound, "NotFoundException"},
	{ErrDisabled, "DisabledException"},
	{ErrInvalidState, "KMSInvalidStateException"},
	{ErrInvalidCiphertext, "InvalidCiphertextException"},
	{ErrIncorrectKey, "IncorrectKeyException"},
	{ErrAlreadyExists, "AlreadyExistsException"},
	{ErrInvalidAliasName, "InvalidAliasNameException"},
	{ErrValidation, "ValidationException"},
	{ErrUnsupported, "UnsupportedOperationException"},
	{ErrWrongPassphrase, "AccessDeniedException"},
	// A policy refusal has the same AWS name; over the wire it comes back
	// as ErrWrongPassphrase, which kmsfs clients also report as access
	// denied.
	{ErrAccessDenied, "AccessDeniedException"},
	{ErrLocked, "DependencyTimeoutException"},
	// Not an AWS name: a kmsfs client must tell a retired version (rewrap
	// first) from a disabled key; AWS SDKs see an unknown client error.
	{ErrVersionRetired, "KmsfsKeyVersionRetiredException"},
	{ErrInternal, "KMSInternalException"},
	{ErrInvalidMarker, "InvalidMarkerException"},
	{ErrMalformedPolicy, "MalformedPolicyDocumentException"},
	{ErrTag, "TagException"},
	{ErrLimitExceeded, "LimitExceededException"},
	{ErrThrottling, "ThrottlingException"},
	{ErrInvalidGrantToken, "InvalidGrantTokenException"},
	{ErrInvalidGrantID, "InvalidGrantIdException"},
	{ErrInvalidArn, "InvalidArnException"},
	{ErrInvalidKeyUsage, "InvalidKeyUsageException"},
	{ErrInvalidSignature, "KMSInvalidSignatureException"},
	{ErrInvalidMac, "KMSInvalidMacException"},
	{ErrIncorrectKeyMaterial, "IncorrectKeyMaterialException"},
	{ErrExpiredImportToken, "ExpiredImportTokenException"},
	{ErrInvalidImportToken, "InvalidImportTokenException"},
	{ErrCustomKeyStoreNotFound, "CustomKeyStoreNotFoundException"},
	{ErrCloudHsmClusterNotFound, "CloudHsmClusterNotFoundException"},
	{ErrXksProxyUriUnreachable, "XksProxyUriUnreachableException"},
	{ErrXksProxyVpcEndpointServiceNotFound, "XksProxyVpcEndpointServiceNotFoundException"},
	// Protocol errors a server answers for malformed requests.
	{ErrUnsupported, "UnknownOperationException"},
	{ErrValidation, "SerializationException"},
}

// ErrorType returns the AWS KMS exception name for err, and whether it is a
// client error (HTTP 400) rather than a server one (HTTP 500).
func ErrorType(err error) (name string, client bool) {
	for _, e := range errorTypes {
		if errors.Is(err, e.err) {
			return e.name, !slices.Contains(serverFaults, e.err)
		}
	}
	return "KMSInternalException", false
}

// ErrorFromType turns an exception name and message received over the wire
// back into an error that wraps the matching sentinel.
func ErrorFromType(name, message string) error {
	for _, e := range errorTypes {
		if e.name == name {
			return &RemoteError{Type: name, Message: message, sentinel: e.err}
		}
	}
	return &RemoteError{Type: name, Message: message, sentinel: ErrInternal}
}

// RemoteError is an error returned by a remote KMS.
type RemoteError struct {
	Type     string // the AWS exception name, e.g. "DisabledException"
	Message  string
	sentinel error
}

func (e *RemoteError) Error() string {
	if e.Message == "" {
		return "kms: " + e.Type
	}
	return "kms: " + e.Type + ": " + e.Message
}

func (e *RemoteError) Unwrap() error { return e.sentinel }

// Errors of a keyring's storage, its audit log and its backups.
var (
	// ErrNoKeyring is returned by local.Open without local.Options.Create when the
	// directory holds no keyring.
	ErrNoKeyring = errors.New("keyring: no keyring in this directory")
	// ErrClosed is returned by every method called after local.Keyring.Close.
	ErrClosed = errors.New("keyring: keyring is closed")
	// ErrAuditBroken is returned by local.Keyring.VerifyAudit when a record of the
	// audit log was edited, reordered or deleted; see [AuditError].
	ErrAuditBroken = errors.New("keyring: audit log hash chain is broken")
	// ErrKeyringCorrupt is returned by local.Open when a record of the keyring
	// database does not authenticate under the key-encryption key, or
	// contradicts another: someone who can write the database edited it or
	// put back an older copy of a record. Its errors also match
	// [ErrInternal], so they keep their meaning over the KMS protocol.
	ErrKeyringCorrupt = errors.New("keyring: keyring database does not authenticate")
)

// ErrBundleCorrupt is returned when a keyring bundle is not one, is of an
// unknown version, or fails authentication although its passphrase check
// passed (it was altered). Its errors also match [ErrInvalidCiphertext], so
// they keep their meaning over the KMS protocol.
var ErrBundleCorrupt = errors.New("keyring: key bundle is corrupt or was tampered with")
