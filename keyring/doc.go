// Package keyring is kmsfs's local key-management service: master keys and
// their versions, stored in a Badger database and sealed under a passphrase.
//
// [Open] returns a [*Keyring], which implements [Service] with the semantics
// of AWS KMS (key IDs, ARNs, aliases, key states, rotation, scheduled
// deletion, Encrypt/Decrypt/ReEncrypt/GenerateDataKey) plus the kmsfs
// extensions WrapDEK and UnwrapDEK that wrap file data keys for envelope
// headers. [NewKeyService] adapts any [Service] to [envelope.KeyService].
//
// This package is the only one that imports Badger. It refuses asymmetric,
// HMAC and imported keys, grants, key policies and tags.
//
// # Key hierarchy on disk
//
// The passphrase is stretched with Argon2id into a 32-byte key-encryption
// key (KEK). The Badger record "meta/root" holds the Argon2id parameters, a
// random 32-byte salt and a verifier (an AES-256-GCM seal of a fixed label
// under the KEK), so a wrong passphrase fails with [ErrWrongPassphrase]
// instead of producing garbage. Every key version's 32-byte material is
// stored only as an AES-256-GCM seal under the KEK with a random nonce and
// the AAD "kmsfs v1 key version" || key ID (16 raw bytes) || version (u32 BE).
// [Keyring.Passwd] reseals all of them in one Badger transaction.
//
// # Ciphertext formats
//
// Encrypt and GenerateDataKey produce blobs in the format documented at
// [ParseBlob]; WrapDEK produces the wrapped keys documented at
// [Keyring.WrapDEK] (FORMAT.md, "Key hierarchy").
//
// # Concurrency and durability
//
// A Keyring is safe for concurrent use. All key and alias records are held
// in memory, and every change is committed to Badger with synchronous writes
// before it becomes visible in memory, so no data key can be wrapped under a
// key version that a crash could lose. Unsealed version keys are cached in
// memory and zeroed (best effort) when destroyed or on Close.
//
// # Audit log
//
// Every state change and cryptographic operation appends an [AuditRecord] to
// a SHA-256 hash chain under its own Badger prefix ([Keyring.Audit],
// [Keyring.VerifyAudit]); see audit.go for how the hot path stays fast.
package keyring
