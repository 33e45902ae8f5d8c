// Package local is kmsfs's local key-management service: master keys and
// their versions, stored in a Badger database and sealed under a passphrase.
//
// [Open] returns a [*Keyring], which implements [keyring.Service] and every
// optional role of package keyring ([keyring.Backupper], [keyring.Auditor],
// [keyring.VersionRetirer], [keyring.RandomGenerator], [keyring.KeyPolicies],
// [keyring.Tagger], [keyring.Describer], [keyring.Granter],
// [keyring.AccessKeys], [keyring.AccessKeyLookup], [keyring.AuditAppender])
// with the semantics of
// AWS KMS (key IDs, ARNs, aliases, key states, rotation, scheduled deletion,
// Encrypt/Decrypt/ReEncrypt/GenerateDataKey) plus the kmsfs extensions
// WrapDEK and UnwrapDEK that wrap file data keys for envelope headers.
//
// This package is the only one that imports Badger. It refuses asymmetric,
// HMAC and imported keys. It stores key policies but does not evaluate
// them: with [Keyring.SetAuthorizer] it asks a [keyring.Authorizer] before
// each operation on a key whose caller is a [keyring.Principal] (authz.go);
// without a principal (the unix socket, in-process callers) nothing is
// asked. Policies, tags and grants live in the key records (and bundles);
// access keys, the credentials of a SigV4 transport, have records of their
// own with their secrets sealed under the KEK (accesskeys.go), and the
// account of ARNs is stored at creation (account.go).
//
// # Key hierarchy on disk
//
// The passphrase is stretched with Argon2id into a 32-byte key-encryption
// key (KEK). The Badger record "meta/root" holds the Argon2id parameters, a
// random 32-byte salt and a verifier (an AES-256-GCM seal of a fixed label
// under the KEK), so a wrong passphrase fails with [keyring.ErrWrongPassphrase]
// instead of producing garbage. Every key version's 32-byte material is
// stored only as an AES-256-GCM seal under the KEK with a random nonce and
// the AAD "kmsfs v1 key version" || key ID (16 raw bytes) || version (u32 BE).
// Every key and alias record carries an HMAC-SHA-256 under a key derived
// from the KEK (recordmac.go), so an edited state, minimum decryption
// version, version list, rotation setting or alias fails [Open] with
// [keyring.ErrKeyringCorrupt]. [Keyring.Passwd] reseals and re-MACs all of them in
// one Badger transaction; keyrings of older formats are upgraded (and
// re-keyed under a fresh salt) on their first Open.
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
// Every state change and cryptographic operation appends an [keyring.AuditRecord] to
// a chain of HMAC-SHA-256 under a random audit key that is sealed under the
// KEK like key versions ([Keyring.Audit], [Keyring.VerifyAudit],
// [Keyring.AuditStatus]), so editing, reordering or deleting records is
// detected even by someone who can write the database; see audit.go for how
// the hot path stays fast (UnwrapDEK calls are aggregated per second) and
// auditkey.go for the key and the upgrade of older keyrings.
//
// # Backups
//
// [Keyring.ExportKeyring] seals every key, version, alias and state into a
// passphrase-protected bundle ([ParseBundle], FORMAT.md "Keyring bundle");
// [Keyring.ImportKeyring] restores one, all or nothing, and never replaces a
// different key that has the same ID. The audit log is not part of a
// bundle: each keyring keeps its own.
package local
