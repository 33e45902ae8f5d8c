// Package keyring is the contract of a kmsfs key service: what the
// filesystem and the command line need from whoever holds master keys.
//
// A key service ([Service]) has the semantics of AWS KMS: keys named by ID,
// ARN or alias, key states (Enabled, Disabled, PendingDeletion), versions
// made by rotation, scheduled deletion, and the cryptographic operations
// Encrypt, Decrypt, ReEncrypt and GenerateDataKey under an encryption
// context ([EncodeContext]). Its inputs and outputs are AWS KMS request and
// response shapes, whose JSON encoding is the wire format. Two kmsfs
// extensions, WrapDEK and UnwrapDEK, wrap file data keys for envelope
// headers; [NewKeyService] adapts any Service to [envelope.KeyService] and
// maps key refusals to envelope's error classes.
//
// # Roles
//
// A service may also serve optional roles, each an interface in roles.go:
// [Backupper] (passphrase-sealed bundles of a whole keyring), [Auditor] (the
// audit log, [AuditRecord]), [VersionRetirer] (minimum decryption versions),
// [RandomGenerator], [KeyPolicies], [Tagger], [Describer], [Granter],
// [AccessKeys] (the credentials of a SigV4 transport) with its local-only
// [AccessKeyLookup], and [AuditAppender]. Callers discover them with a type
// assertion, so a service (or a test fake) that lacks one still compiles.
//
// # Authorization
//
// Who may call is decided apart from how keys are kept (authorize.go): a
// service that enforces key policies and grants asks an [Authorizer]
// whenever the caller's context carries a [Principal]. The service stores
// policies and grants and checks only their shape (a policy is a JSON
// object); the policy grammar and the lockout safety check belong to the
// Authorizer and the transport in front of the service.
//
// # Implementations
//
// Package keyring/local keeps keys in a Badger database sealed under a
// passphrase; package keyring/kmsapi carries the contract over the AWS KMS
// JSON protocol (a server handler, and a client that is itself a Service).
// This package imports neither Badger nor any transport.
//
// # Errors
//
// Every failure wraps one sentinel of errors.go, and each sentinel maps to
// one AWS KMS exception name ([ErrorType], [ErrorFromType]), so errors keep
// their meaning across the wire.
package keyring
