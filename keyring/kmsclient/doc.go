// Package kmsclient is the key service of a volume whose master key lives
// in an AWS-KMS-compatible service: `kmsfs serve` on another machine, or
// AWS KMS itself. It implements [envelope.KeyService] with the AWS SDK for
// Go's KMS client and standard operations only (Encrypt, Decrypt,
// ReEncrypt, DescribeKey), so that it works unchanged against real AWS KMS;
// it never calls the kmsfs-only WrapDEK and UnwrapDEK.
//
// # What it owns
//
//   - The KMS wrap of FORMAT.md §5.4: a file's DEK is stored as a KMS
//     CiphertextBlob in a version 2 header ([envelope.KindKMS]), under an
//     encryption context that binds the volume ID, the file ID and the
//     preamble, so that a blob moved to another file fails to decrypt
//     ([envelope.ErrUnauthenticated]).
//   - A bounded cache of unwrapped data keys with a maximum age and a
//     maximum number of uses per entry, as the AWS Encryption SDK's caching
//     materials manager has, so that reopening a file does not cost a round
//     trip every time ([CacheConfig]).
//   - Failure classes: every remote error carries the envelope class a
//     filesystem maps to an errno ([envelope.ErrKeyDenied] for a disabled
//     key or a refused call, [envelope.ErrKeyUnavailable] for an unknown
//     key or an unreachable or failing service), and no call outlives its
//     per-call timeout ([Config.Timeout], [ErrTimeout]).
//
// # What it refuses
//
// It holds no credentials of its own: the SDK finds them as it always
// does (environment, shared config and profiles, instance roles), and
// nothing here writes them anywhere. It never logs key material or
// blobs. It cannot wrap under a local keyring (that is keyring's
// NewKeyService), and it refuses blobs that do not fit a header slot
// ([ErrBlobTooLarge]).
package kmsclient
