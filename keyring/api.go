package keyring

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Service is everything outside this package needs from a key-management
// service. The local Badger keyring (local.Open) and the remote client that speaks
// the AWS KMS JSON protocol (package kmsapi) both implement it, so the
// filesystem and the command line never know which they hold.
//
// Inputs and outputs are shaped as AWS KMS requests and responses: their JSON
// encoding is the wire format (blobs as padded standard base64, times as epoch
// seconds), so one server can serve kmsfs and AWS SDKs alike.
type Service interface {
	Crypto
	Admin
}

// Crypto holds the cryptographic operations. Every one refuses a key that is
// not Enabled, with an error wrapping [ErrDisabled] or [ErrInvalidState].
type Crypto interface {
	Encrypt(ctx context.Context, in *EncryptInput) (*EncryptOutput, error)
	Decrypt(ctx context.Context, in *DecryptInput) (*DecryptOutput, error)
	ReEncrypt(ctx context.Context, in *ReEncryptInput) (*ReEncryptOutput, error)
	GenerateDataKey(ctx context.Context, in *GenerateDataKeyInput) (*GenerateDataKeyOutput, error)
	GenerateDataKeyWithoutPlaintext(ctx context.Context, in *GenerateDataKeyInput) (*GenerateDataKeyWithoutPlaintextOutput, error)
	// WrapDEK and UnwrapDEK are kmsfs extensions: they wrap file data keys
	// for envelope headers (FORMAT.md, "Key hierarchy").
	WrapDEK(ctx context.Context, in *WrapDEKInput) (*WrapDEKOutput, error)
	UnwrapDEK(ctx context.Context, in *UnwrapDEKInput) (*UnwrapDEKOutput, error)
}

// Admin holds key and alias management.
type Admin interface {
	CreateKey(ctx context.Context, in *CreateKeyInput) (*KeyMetadataOutput, error)
	DescribeKey(ctx context.Context, in *KeyIDInput) (*KeyMetadataOutput, error)
	ListKeys(ctx context.Context, in *ListInput) (*ListKeysOutput, error)
	EnableKey(ctx context.Context, in *KeyIDInput) error
	DisableKey(ctx context.Context, in *KeyIDInput) error
	EnableKeyRotation(ctx context.Context, in *EnableKeyRotationInput) error
	DisableKeyRotation(ctx context.Context, in *KeyIDInput) error
	GetKeyRotationStatus(ctx context.Context, in *KeyIDInput) (*GetKeyRotationStatusOutput, error)
	RotateKeyOnDemand(ctx context.Context, in *KeyIDInput) (*RotateKeyOnDemandOutput, error)
	ListKeyRotations(ctx context.Context, in *ListKeyRotationsInput) (*ListKeyRotationsOutput, error)
	ScheduleKeyDeletion(ctx context.Context, in *ScheduleKeyDeletionInput) (*ScheduleKeyDeletionOutput, error)
	CancelKeyDeletion(ctx context.Context, in *KeyIDInput) (*CancelKeyDeletionOutput, error)
	CreateAlias(ctx context.Context, in *AliasInput) error
	UpdateAlias(ctx context.Context, in *AliasInput) error
	DeleteAlias(ctx context.Context, in *AliasInput) error
	ListAliases(ctx context.Context, in *ListAliasesInput) (*ListAliasesOutput, error)
}

// Key states, as in AWS KMS.
const (
	StateEnabled         = "Enabled"
	StateDisabled        = "Disabled"
	StatePendingDeletion = "PendingDeletion"
	// StatePendingReplicaDeletion is a multi-Region primary key scheduled
	// for deletion while it still has replicas: its waiting period starts
	// when the last of them is deleted.
	StatePendingReplicaDeletion = "PendingReplicaDeletion"
)

// Key specs of data keys for GenerateDataKey.
const (
	DataKeyAES256 = "AES_256"
	DataKeyAES128 = "AES_128"
)

// EpochTime is a time that encodes in JSON as epoch seconds, as AWS does.
type EpochTime struct{ time.Time }

// MarshalJSON encodes t as fractional seconds since the epoch.
func (t EpochTime) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return []byte("null"), nil
	}
	if sec := t.Unix(); sec > maxEpochSeconds || sec < -maxEpochSeconds {
		return nil, fmt.Errorf("%w: epoch time out of range", ErrValidation)
	}
	// Milliseconds, as AWS sends them: exact in decimal, unlike a float64
	// of nanoseconds. The sign goes in front of the whole number, so that
	// 5 ms before the epoch is -0.005 (not -0.-5).
	ms := t.UnixMilli()
	var b []byte
	u := uint64(ms)
	if ms < 0 {
		b, u = append(b, '-'), -u // two's complement: right for MinInt64 too
	}
	b = strconv.AppendUint(b, u/1000, 10)
	if frac := u % 1000; frac != 0 {
		b = append(b, '.')
		b = append(b, strings.TrimRight(fmt.Sprintf("%03d", frac), "0")...)
	}
	return b, nil
}

// maxEpochSeconds bounds epoch times both ways (year ~31 million: far
// beyond any key date), so that milliseconds fit an int64 and exponent
// notation, converted through a float64, stays exact to the millisecond.
const maxEpochSeconds = 1e15

// UnmarshalJSON accepts epoch seconds as an integer or a decimal, exactly
// to the nanosecond, or in exponent notation to the millisecond.
func (t *EpochTime) UnmarshalJSON(b []byte) error {
	s := string(b)
	if s == "null" {
		t.Time = time.Time{}
		return nil
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	if strings.ContainsAny(s, "eE") {
		if math.Abs(f) > maxEpochSeconds {
			return fmt.Errorf("%w: epoch time out of range", ErrValidation)
		}
		t.Time = time.UnixMilli(int64(math.Round(f * 1000))).UTC()
		return nil
	}
	tm, err := parseDecimalEpoch(s)
	if err != nil {
		return err
	}
	t.Time = tm
	return nil
}

// parseDecimalEpoch parses a JSON number without exponent, [-]int[.frac],
// as seconds; fraction digits beyond nanoseconds are dropped.
func parseDecimalEpoch(s string) (time.Time, error) {
	neg := strings.HasPrefix(s, "-")
	intPart, frac, _ := strings.Cut(strings.TrimPrefix(s, "-"), ".")
	sec, err := strconv.ParseInt(intPart, 10, 64)
	if err != nil || sec > maxEpochSeconds {
		return time.Time{}, fmt.Errorf("%w: epoch time out of range", ErrValidation)
	}
	frac = (frac + "000000000")[:9]
	nsec, err := strconv.ParseInt(frac, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: bad epoch time", ErrValidation)
	}
	if neg {
		sec, nsec = -sec, -nsec
	}
	return time.Unix(sec, nsec).UTC(), nil
}

// KeyMetadata describes a master key, as AWS KMS's KeyMetadata.
type KeyMetadata struct {
	AWSAccountId                string
	KeyId                       string
	Arn                         string
	CreationDate                EpochTime
	Enabled                     bool
	Description                 string
	KeyUsage                    string     // ENCRYPT_DECRYPT, SIGN_VERIFY, GENERATE_VERIFY_MAC, KEY_AGREEMENT
	KeyState                    string     // Enabled, Disabled, PendingDeletion, PendingImport, PendingReplicaDeletion
	DeletionDate                *EpochTime `json:",omitempty"`
	ValidTo                     *EpochTime `json:",omitempty"` // imported material that expires
	PendingDeletionWindowInDays int        `json:",omitempty"`
	Origin                      string     // AWS_KMS or EXTERNAL
	ExpirationModel             string     `json:",omitempty"` // EXTERNAL keys only
	KeyManager                  string     // CUSTOMER
	KeySpec                     string
	CustomerMasterKeySpec       string
	EncryptionAlgorithms        []string `json:",omitempty"`
	SigningAlgorithms           []string `json:",omitempty"`
	MacAlgorithms               []string `json:",omitempty"`
	KeyAgreementAlgorithms      []string `json:",omitempty"`
	MultiRegion                 bool
	MultiRegionConfiguration    *MultiRegionConfiguration `json:",omitempty"`
	// Kmsfs extensions.
	CurrentKeyVersion        uint32 `json:",omitempty"`
	MinimumDecryptionVersion uint32 `json:",omitempty"`
}

// KeyIDInput names a key by key ID, key ARN, alias name or alias ARN.
type KeyIDInput struct {
	KeyId string
}

type CreateKeyInput struct {
	Description string `json:",omitempty"`
	KeyUsage    string `json:",omitempty"` // default ENCRYPT_DECRYPT
	KeySpec     string `json:",omitempty"` // default SYMMETRIC_DEFAULT
	Origin      string `json:",omitempty"` // AWS_KMS (default) or EXTERNAL
	// Members AWS also takes, modelled so that a request for what this
	// keyring cannot do is refused instead of silently ignored.
	CustomerMasterKeySpec string `json:",omitempty"` // deprecated alias of KeySpec
	MultiRegion           bool   `json:",omitempty"` // a multi-Region primary key (ID mrk-...)
	CustomKeyStoreId      string `json:",omitempty"` // empty only
	XksKeyId              string `json:",omitempty"` // empty only
	// Policy is the key policy (JSON, at most 32 KiB here); empty gives
	// AWS's default policy, which lets the account root do everything.
	// The keyring checks that it is a JSON object; the grammar and the
	// lockout safety check are a [PolicyChecker]'s (see [PutKeyPolicyInput]).
	Policy                         string `json:",omitempty"`
	BypassPolicyLockoutSafetyCheck bool   `json:",omitempty"`
	// Tags are the key's first tags, as [Tagger.TagResource] takes them.
	Tags []Tag `json:",omitempty"`
}

type KeyMetadataOutput struct {
	KeyMetadata KeyMetadata
}

// ListInput pages through a listing, as AWS: Limit 1 to 1000 (default 100).
type ListInput struct {
	Limit  int    `json:",omitempty"`
	Marker string `json:",omitempty"`
}

type KeyListEntry struct {
	KeyId  string
	KeyArn string
}

type ListKeysOutput struct {
	Keys       []KeyListEntry
	NextMarker string `json:",omitempty"`
	Truncated  bool
}

type EnableKeyRotationInput struct {
	KeyId                string
	RotationPeriodInDays int `json:",omitempty"` // 90 to 2560; default 365
}

type GetKeyRotationStatusOutput struct {
	KeyRotationEnabled   bool
	KeyId                string
	RotationPeriodInDays int        `json:",omitempty"`
	NextRotationDate     *EpochTime `json:",omitempty"`
}

type RotateKeyOnDemandOutput struct {
	KeyId string
	// KeyVersion is a kmsfs extension: the version the rotation created.
	KeyVersion uint32
}

type ListKeyRotationsInput struct {
	KeyId  string
	Limit  int    `json:",omitempty"`
	Marker string `json:",omitempty"`
}

type KeyRotation struct {
	KeyId        string
	RotationDate EpochTime
	RotationType string // AUTOMATIC or ON_DEMAND
	KeyVersion   uint32 // kmsfs extension
}

type ListKeyRotationsOutput struct {
	Rotations  []KeyRotation
	NextMarker string `json:",omitempty"`
	Truncated  bool
}

type ScheduleKeyDeletionInput struct {
	KeyId               string
	PendingWindowInDays int `json:",omitempty"` // 7 to 30; default 30
}

type ScheduleKeyDeletionOutput struct {
	KeyId string
	// DeletionDate is absent for a multi-Region primary key with
	// replicas (PendingReplicaDeletion): it is not known until the last
	// replica is deleted.
	DeletionDate        EpochTime `json:",omitzero"`
	KeyState            string
	PendingWindowInDays int
}

type CancelKeyDeletionOutput struct {
	KeyId string
}

// AliasInput serves CreateAlias, UpdateAlias (both need TargetKeyId) and
// DeleteAlias.
type AliasInput struct {
	AliasName   string
	TargetKeyId string `json:",omitempty"`
}

type ListAliasesInput struct {
	KeyId  string `json:",omitempty"`
	Limit  int    `json:",omitempty"`
	Marker string `json:",omitempty"`
}

type AliasListEntry struct {
	AliasName       string
	AliasArn        string
	TargetKeyId     string
	CreationDate    EpochTime
	LastUpdatedDate EpochTime
}

type ListAliasesOutput struct {
	Aliases    []AliasListEntry
	NextMarker string `json:",omitempty"`
	Truncated  bool
}

// EncryptInput encrypts up to 4096 bytes.
type EncryptInput struct {
	KeyId             string
	Plaintext         []byte
	EncryptionContext map[string]string `json:",omitempty"`
	GrantTokens       []string          `json:",omitempty"` // see [Grant]
	// EncryptionAlgorithm is SYMMETRIC_DEFAULT (the default) or, for RSA
	// ENCRYPT_DECRYPT keys, RSAES_OAEP_SHA_1 or RSAES_OAEP_SHA_256.
	EncryptionAlgorithm string `json:",omitempty"`
}

type EncryptOutput struct {
	CiphertextBlob      []byte
	KeyId               string // the key ARN
	EncryptionAlgorithm string
}

type DecryptInput struct {
	CiphertextBlob    []byte
	EncryptionContext map[string]string `json:",omitempty"`
	KeyId             string            `json:",omitempty"` // optional; a mismatch is ErrIncorrectKey
	GrantTokens       []string          `json:",omitempty"`
	// EncryptionAlgorithm must be given, with KeyId, for RSA ciphertexts.
	EncryptionAlgorithm string `json:",omitempty"`
}

type DecryptOutput struct {
	KeyId               string // the key ARN
	Plaintext           []byte
	EncryptionAlgorithm string
}

type ReEncryptInput struct {
	CiphertextBlob               []byte
	SourceEncryptionContext      map[string]string `json:",omitempty"`
	SourceKeyId                  string            `json:",omitempty"`
	DestinationKeyId             string
	DestinationEncryptionContext map[string]string `json:",omitempty"`
	GrantTokens                  []string          `json:",omitempty"`
}

type ReEncryptOutput struct {
	CiphertextBlob                 []byte
	SourceKeyId                    string
	KeyId                          string
	SourceEncryptionAlgorithm      string
	DestinationEncryptionAlgorithm string
}

// GenerateDataKeyInput takes exactly one of KeySpec and NumberOfBytes.
type GenerateDataKeyInput struct {
	KeyId             string
	EncryptionContext map[string]string `json:",omitempty"`
	KeySpec           string            `json:",omitempty"`
	NumberOfBytes     int               `json:",omitempty"`
	GrantTokens       []string          `json:",omitempty"`
}

type GenerateDataKeyOutput struct {
	CiphertextBlob []byte
	Plaintext      []byte
	KeyId          string
}

type GenerateDataKeyWithoutPlaintextOutput struct {
	CiphertextBlob []byte
	KeyId          string
}

// WrapDEKInput wraps a file data key under the newest version of KeyId,
// binding AAD (FORMAT.md, "Key hierarchy").
type WrapDEKInput struct {
	KeyId     string
	Plaintext []byte // the DEK, 32 bytes
	AAD       []byte
}

type WrapDEKOutput struct {
	KeyId      string // the key's UUID
	KeyVersion uint32
	WrappedKey []byte
}

type UnwrapDEKInput struct {
	KeyId      string // the key's UUID, from the header
	KeyVersion uint32
	WrappedKey []byte
	AAD        []byte
}

type UnwrapDEKOutput struct {
	Plaintext []byte
}

// GenerateRandomInput asks for NumberOfBytes (1 to 1024) random bytes, as
// AWS KMS's GenerateRandom. It is not part of [Service]; the local keyring
// and the kmsapi client offer it.
type GenerateRandomInput struct {
	NumberOfBytes    int
	CustomKeyStoreId string         `json:",omitempty"` // refused: no custom key stores
	Recipient        *RecipientInfo `json:",omitempty"` // refused: no Nitro enclaves
}

// RecipientInfo is AWS's attested recipient of a Nitro enclave.
type RecipientInfo struct {
	KeyEncryptionAlgorithm string `json:",omitempty"`
	AttestationDocument    []byte `json:",omitempty"`
}

type GenerateRandomOutput struct {
	Plaintext []byte
}
