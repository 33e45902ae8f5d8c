// Package envelope implements the kmsfs ciphertext file format
// (docs/FORMAT.md): a per-file random data key (DEK) wrapped by a versioned
// master key, and a body of fixed-size AES-256-GCM chunks. Version 1 files
// hold the DEK wrapped by a kmsfs keyring; version 2 files hold it as the
// ciphertext blob of an AWS-KMS-compatible service ([KindKMS]). A file's
// version follows from its key service's [SlotKind] when its header is
// made, and a key service of the other kind cannot open it.
//
// It owns the byte layout, the key derivations and the AEAD; it refuses
// everything else. It does not know FUSE, Badger or how master keys are
// stored: it reaches the keyring only through [KeyWrapper] and
// [KeyUnwrapper], and the chunk arithmetic lives in package chunker.
//
// # Files
//
// [File] is a random-access plaintext view of one ciphertext file
// ([Backing], e.g. an *os.File): [Create], [Open], ReadAt, WriteAt,
// Truncate, Sync, Close, and Rewrap for header-only master key rotation. It
// is safe for concurrent use and seals large requests on all CPUs.
//
// [NewWriter] and [NewReader] encrypt and decrypt a whole file as a stream.
// [ReadHeader], [Verify] and [RewrapFile] serve fsck and offline tools.
// [PlaintextSize] and [CiphertextSize] convert sizes for stat without
// decrypting anything.
//
// # Errors
//
// Authentication failures wrap [ErrUnauthenticated] and never say whether a
// key was wrong or data was altered. A damaged chunk is reported as a
// [*ChunkError] carrying its index. Truncation wraps [ErrTruncated]: Open
// refuses only a cut header; a file cut below its size floor, or ending
// in a torn fragment, opens short ([File.Truncation]), so that what is
// left can be read, and a read that reaches its end fails instead of
// returning io.EOF. Malformed headers wrap [ErrBadHeader].
package envelope
