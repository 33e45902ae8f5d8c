package kmsclient

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/google/uuid"

	"github.com/kmsfs/kmsfs/envelope"
)

// DefaultTimeout bounds one KMS call, retries included, unless
// Config.Timeout says otherwise: a file open waits at most this long for
// an unreachable KMS before it fails.
const DefaultTimeout = 10 * time.Second

// Encryption context keys (FORMAT.md §5.4).
const (
	ContextVolumeID = "kmsfs:volume-id"
	ContextFileID   = "kmsfs:file-id"
	ContextPreamble = "kmsfs:preamble"
	ContextAAD      = "kmsfs:aad"
)

// API is the part of the AWS SDK's *kms.Client that a Service calls.
type API interface {
	Encrypt(ctx context.Context, in *kms.EncryptInput, optFns ...func(*kms.Options)) (*kms.EncryptOutput, error)
	Decrypt(ctx context.Context, in *kms.DecryptInput, optFns ...func(*kms.Options)) (*kms.DecryptOutput, error)
	ReEncrypt(ctx context.Context, in *kms.ReEncryptInput, optFns ...func(*kms.Options)) (*kms.ReEncryptOutput, error)
	DescribeKey(ctx context.Context, in *kms.DescribeKeyInput, optFns ...func(*kms.Options)) (*kms.DescribeKeyOutput, error)
}

var _ API = (*kms.Client)(nil)

// Config is what a Service needs besides its client.
type Config struct {
	// KeyID names the KMS key that wraps new data keys: a key ID, key
	// ARN, alias name or alias ARN, as AWS KMS accepts them.
	KeyID string
	// VolumeID is the volume's ID (32 hex digits), bound into every
	// encryption context (FORMAT.md §5.4).
	VolumeID string
	// Endpoint names the service in logs and errors ("" is AWS KMS).
	Endpoint string
	// Timeout bounds each KMS call, retries included; 0 is DefaultTimeout.
	Timeout time.Duration
	// Cache bounds the cache of unwrapped data keys.
	Cache CacheConfig
	// Logger receives one warning per failed KMS call (operation,
	// endpoint, error class and the service's error, never key material);
	// nil discards them.
	Logger *slog.Logger
	// Now is the clock of the cache; nil is time.Now (tests set it).
	Now func() time.Time
}

// Service is the envelope.KeyService of a volume whose key lives in a
// KMS. It is safe for concurrent use. Its key references carry the KMS
// key's 16-byte ID and no version (FORMAT.md §4.6).
type Service struct {
	api   API
	cfg   Config
	key   atomic.Pointer[string]
	cache *dekCache
	log   *slog.Logger
}

var (
	_ envelope.KeyService = (*Service)(nil)
	_ envelope.SlotKinder = (*Service)(nil)
)

// New returns the key service of cfg's volume over api (a *kms.Client,
// see [NewClient]). It makes no call: [Service.Describe] and
// [Service.Check] do.
func New(api API, cfg Config) (*Service, error) {
	if cfg.KeyID == "" {
		return nil, fmt.Errorf("%w: no KMS key", ErrBadConfig)
	}
	if id, err := hex.DecodeString(cfg.VolumeID); err != nil || len(id) != 16 {
		return nil, fmt.Errorf("%w: volume ID %q is not 32 hex digits", ErrBadConfig, cfg.VolumeID)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Service{api: api, cfg: cfg, cache: newCache(cfg.Cache, cfg.Now), log: log}
	s.SetKey(cfg.KeyID)
	return s, nil
}

// ForKey returns a service that wraps under keyID and shares s's client
// and cache (for `kmsfs rewrap --key`).
func (s *Service) ForKey(keyID string) *Service {
	t := &Service{api: s.api, cfg: s.cfg, cache: s.cache, log: s.log}
	t.cfg.KeyID = keyID
	t.SetKey(keyID)
	return t
}

// SetKey makes new wraps use keyID.
func (s *Service) SetKey(keyID string) { s.key.Store(&keyID) }

// KeyID returns the key new wraps use, as configured.
func (s *Service) KeyID() string { return *s.key.Load() }

// SlotKind reports that this service's wraps are KMS blobs.
func (s *Service) SlotKind() envelope.SlotKind { return envelope.KindKMS }

// CacheStats returns the cache's counters.
func (s *Service) CacheStats() CacheStats { return s.cache.snapshot() }

// Close wipes the cached data keys. The service still works afterwards,
// with an empty cache.
func (s *Service) Close() error {
	s.cache.wipe()
	return nil
}

// EncryptionContext returns the encryption context of a wrap with aad
// (FORMAT.md §5.4): a file's preamble gives its file ID and the preamble,
// any other aad (the name key's) is bound whole.
func (s *Service) EncryptionContext(aad []byte) map[string]string {
	ec := map[string]string{ContextVolumeID: strings.ToLower(s.cfg.VolumeID)}
	if pre, err := envelope.ParsePreamble(aad); err == nil {
		ec[ContextFileID] = hex.EncodeToString(pre.FileID[:])
		ec[ContextPreamble] = base64.StdEncoding.EncodeToString(aad)
		return ec
	}
	ec[ContextAAD] = base64.StdEncoding.EncodeToString(aad)
	return ec
}

// WrapKey wraps dek under the current key, binding aad through the
// encryption context. A data key that this service unwrapped for the same
// aad (a rewrap) is re-encrypted with ReEncrypt, so that it does not
// travel again; any other is sent with Encrypt.
func (s *Service) WrapKey(ctx context.Context, dek, aad []byte) (envelope.KeyRef, []byte, error) {
	ec := s.EncryptionContext(aad)
	keyID := s.KeyID()
	var blob []byte
	var usedKey string
	if old, _ := s.cache.blobFor(aad, dek); old != nil {
		out, err := call(ctx, s, "ReEncrypt", func(ctx context.Context) (*kms.ReEncryptOutput, error) {
			return s.api.ReEncrypt(ctx, &kms.ReEncryptInput{CiphertextBlob: old, SourceEncryptionContext: ec,
				DestinationKeyId: &keyID, DestinationEncryptionContext: ec})
		})
		if err != nil {
			return envelope.KeyRef{}, nil, err
		}
		blob, usedKey = out.CiphertextBlob, aws.ToString(out.KeyId)
	} else {
		out, err := call(ctx, s, "Encrypt", func(ctx context.Context) (*kms.EncryptOutput, error) {
			return s.api.Encrypt(ctx, &kms.EncryptInput{KeyId: &keyID, Plaintext: dek, EncryptionContext: ec})
		})
		if err != nil {
			return envelope.KeyRef{}, nil, err
		}
		blob, usedKey = out.CiphertextBlob, aws.ToString(out.KeyId)
	}
	if len(blob) == 0 || len(blob) > envelope.MaxKMSBlobLen {
		return envelope.KeyRef{}, nil, fmt.Errorf("%w: %d bytes from %s, at most %d fit", ErrBlobTooLarge, len(blob), s.where(), envelope.MaxKMSBlobLen)
	}
	ref := RefOf(cmp.Or(usedKey, keyID))
	s.cache.put(blob, aad, dek, ref.KeyID)
	return ref, blob, nil
}

// UnwrapKey decrypts blob under the encryption context of aad. A blob
// under the current key names it in the Decrypt call (as AWS advises);
// one under another key (a volume moved with `rewrap --key`) lets the KMS
// find its key in the blob. A blob that does not decrypt under this
// context (moved from another file, altered) fails with an error
// matching envelope.ErrUnauthenticated.
func (s *Service) UnwrapKey(ctx context.Context, ref envelope.KeyRef, blob, aad []byte) ([]byte, error) {
	if dek := s.cache.get(blob, aad); dek != nil {
		return dek, nil
	}
	in := &kms.DecryptInput{CiphertextBlob: blob, EncryptionContext: s.EncryptionContext(aad)}
	if keyID := s.KeyID(); RefOf(keyID).KeyID == ref.KeyID {
		in.KeyId = &keyID
	}
	out, err := call(ctx, s, "Decrypt", func(ctx context.Context) (*kms.DecryptOutput, error) {
		return s.api.Decrypt(ctx, in)
	})
	if err != nil {
		return nil, err
	}
	if len(out.Plaintext) == 0 {
		return nil, fmt.Errorf("kmsclient: Decrypt at %s returned no plaintext: %w", s.where(), envelope.ErrKeyUnavailable)
	}
	s.cache.put(blob, aad, out.Plaintext, ref.KeyID)
	return out.Plaintext, nil
}

// KeyInfo is what DescribeKey says about the volume's key.
type KeyInfo struct {
	ARN   string // the key ARN, recorded in the volume config
	ID    string // the key ID (a UUID on AWS KMS and kmsfs serve)
	State string // Enabled, Disabled, PendingDeletion, ...
	Ref   envelope.KeyRef
}

// Describe resolves the current key with DescribeKey and checks that it
// can wrap data keys: a symmetric encryption key (ErrBadKey otherwise)
// that is enabled (an error matching ErrBadKey and
// envelope.ErrKeyDenied otherwise).
func (s *Service) Describe(ctx context.Context) (KeyInfo, error) {
	keyID := s.KeyID()
	out, err := call(ctx, s, "DescribeKey", func(ctx context.Context) (*kms.DescribeKeyOutput, error) {
		return s.api.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: &keyID})
	})
	if err != nil {
		return KeyInfo{}, err
	}
	m := out.KeyMetadata
	if m == nil {
		return KeyInfo{}, fmt.Errorf("%w: DescribeKey returned no metadata", ErrBadKey)
	}
	info := KeyInfo{ARN: aws.ToString(m.Arn), ID: aws.ToString(m.KeyId), State: string(m.KeyState)}
	info.Ref = RefOf(cmp.Or(info.ARN, info.ID))
	switch {
	case m.KeyUsage != "" && m.KeyUsage != types.KeyUsageTypeEncryptDecrypt,
		m.KeySpec != "" && m.KeySpec != types.KeySpecSymmetricDefault:
		return info, fmt.Errorf("%w: %s is %s/%s, not a symmetric encryption key", ErrBadKey, info.ARN, m.KeySpec, m.KeyUsage)
	case m.KeyState != types.KeyStateEnabled:
		return info, fmt.Errorf("%w: %s is %s (%w)", ErrBadKey, info.ARN, m.KeyState, envelope.ErrKeyDenied)
	}
	return info, nil
}

// Check describes the key and makes one trial wrap and unwrap of a
// random key, under an encryption context that names no file, so that
// `kmsfs init` fails before anything is written if the key is unusable
// or its blobs do not fit a header slot (FORMAT.md §4.6).
func (s *Service) Check(ctx context.Context) (KeyInfo, error) {
	info, err := s.Describe(ctx)
	if err != nil {
		return info, err
	}
	probe := make([]byte, envelope.DEKSize)
	if _, err := randRead(probe); err != nil {
		return info, err
	}
	aad := []byte("kmsfs init probe")
	ref, blob, err := s.WrapKey(ctx, probe, aad)
	if err != nil {
		return info, err
	}
	s.cache.wipe() // the unwrap below must reach the KMS
	got, err := s.UnwrapKey(ctx, ref, blob, aad)
	if err != nil {
		return info, err
	}
	defer clear(got)
	if string(got) != string(probe) {
		return info, fmt.Errorf("%w: trial Decrypt at %s returned another key", ErrBadKey, s.where())
	}
	return info, nil
}

// RefOf returns the key reference of a KMS key ID or key ARN: the key's
// UUID as 16 bytes, a multi-region key's 32 hex digits after "mrk-", or
// else the first 16 bytes of SHA-256 of the string (FORMAT.md §4.6).
// Version is always 0.
func RefOf(keyIDOrARN string) envelope.KeyRef {
	id := keyIDOrARN
	if i := strings.LastIndex(id, ":key/"); i >= 0 && strings.HasPrefix(id, "arn:") {
		id = id[i+len(":key/"):]
	}
	var ref envelope.KeyRef
	if u, err := uuid.Parse(id); err == nil && len(id) == 36 {
		ref.KeyID = u
		return ref
	}
	if h, ok := strings.CutPrefix(id, "mrk-"); ok {
		if b, err := hex.DecodeString(h); err == nil && len(b) == envelope.KeyIDSize {
			copy(ref.KeyID[:], b)
			return ref
		}
	}
	sum := sha256.Sum256([]byte(keyIDOrARN))
	copy(ref.KeyID[:], sum[:])
	return ref
}

// call runs one KMS operation under the per-call timeout and classifies
// and logs its failure.
func call[Out any](ctx context.Context, s *Service, op string, f func(context.Context) (*Out, error)) (*Out, error) {
	cctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	start := s.cfg.Now()
	out, err := f(cctx)
	if err == nil {
		return out, nil
	}
	err = wrapErr(ctx, op, err)
	if ctx.Err() == nil {
		s.log.Warn("KMS call failed", "op", op, "endpoint", s.where(), "key", s.KeyID(),
			"class", fmt.Sprint(Classify(err)), "ms", s.cfg.Now().Sub(start).Milliseconds(), "err", err)
	}
	return nil, fmt.Errorf("%w (at %s)", err, s.where())
}

func (s *Service) where() string {
	if s.cfg.Endpoint == "" {
		return "AWS KMS"
	}
	return s.cfg.Endpoint
}
