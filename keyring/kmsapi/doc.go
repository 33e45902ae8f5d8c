// Package kmsapi carries [keyring.Service] over the AWS KMS JSON protocol.
//
// While a filesystem is mounted, the mount process owns the Badger keyring
// (Badger locks its directory), so every other kmsfs process reaches the keys
// through this package: [ListenUnix] serves [NewHandler] on a unix socket
// beside the keyring ([SocketPath]), and [Dial] returns a [Client] that
// implements [keyring.Service] again. Because the wire format is the one AWS
// SDKs speak, the same handler can later serve them over TCP.
//
// # Wire format
//
// A request is `POST /` with `X-Amz-Target: TrentService.<Operation>` (or
// `KmsfsService.<Operation>` for the kmsfs extensions WrapDEK, UnwrapDEK and
// Ping, and those a service offers beyond [keyring.Service]: ExportKeyring
// and ImportKeyring ([keyring.Backupper]), Audit and VerifyAudit
// ([keyring.Auditor]), CreateAccessKey, ListAccessKeys, DeleteAccessKey and
// UpdateAccessKey ([keyring.AccessKeys]); and, as AWS names them,
// GenerateRandom ([keyring.RandomGenerator]), GetKeyPolicy, PutKeyPolicy and
// ListKeyPolicies ([keyring.KeyPolicies]), TagResource, UntagResource and
// ListResourceTags ([keyring.Tagger]), UpdateKeyDescription
// ([keyring.Describer]), CreateGrant, ListGrants, ListRetirableGrants,
// RetireGrant and RevokeGrant ([keyring.Granter]) when the service offers
// them. [keyring.AccessKeyLookup] and [keyring.AuditAppender] are never
// served: they are for a transport in the server's own process),
// `Content-Type: application/x-amz-json-1.1` and the JSON encoding of
// the keyring input type. A success is 200 with the JSON output (`{}` for
// operations without output); a failure is 400 (client error), 413 (body too
// large) or 500 (server error) with `{"__type":"<Exception>","message":"…"}`,
// where the exception name comes from [keyring.ErrorType] and turns back into
// the same sentinel with [keyring.ErrorFromType]. Every response carries an
// `x-amzn-RequestId` header.
//
// # Security
//
// The unix socket is the only authenticated transport: it is created with
// mode 0600 and every connection is checked with SO_PEERCRED, admitting only
// the server's effective uid and root. [Dial] applies the same rule the
// other way round: it talks only to a socket owned by its own effective uid
// or root and served by a process of one of them (SO_PEERCRED again), so a
// socket planted by another user never receives data keys or passphrases.
// The handler itself does not verify AWS SigV4 signatures, so serving it
// over TCP is for tests only.
//
// Messages this package writes never contain plaintexts or keys; request and
// response buffers that held them, and the plaintexts, data keys and
// passphrases the handler decoded or the service returned, are cleared once
// the response is written (best effort: encoding/json keeps pooled buffers
// of its own).
//
// This package refuses everything else: it does not store keys, does not
// import Badger, and does not decide key semantics.
package kmsapi
