package keyring

import "context"

// Optional roles: a [Service] may also serve these. The local keyring
// serves them all; a remote client serves them when its server does.

// ExportKeyringInput asks for a bundle of the whole keyring (kmsfs
// extension; KmsfsService.ExportKeyring on the wire).
type ExportKeyringInput struct {
	// KeyringPassphrase must unlock this keyring: taking key material out
	// needs the passphrase even from a process that already holds the
	// keyring open (a mount, reached over its socket).
	KeyringPassphrase []byte
	// Passphrase seals the bundle; it may equal the keyring's.
	Passphrase []byte
	// KDF stretches Passphrase; zero means local.DefaultKDF.
	KDF KDFParams
}

// ExportKeyringOutput is a sealed bundle (local.ParseBundle) and what it holds.
type ExportKeyringOutput struct {
	Bundle   []byte
	Keys     int
	Versions int // versions with key material
	Aliases  int
}

// ImportKeyringInput restores a bundle into this keyring (kmsfs extension;
// KmsfsService.ImportKeyring on the wire).
type ImportKeyringInput struct {
	// KeyringPassphrase must unlock this keyring, as for an export: an
	// import can add a key whose material the caller knows and repoint an
	// alias (the filesystem's) at it, so a process that merely reaches the
	// socket of a mount must not be able to do it.
	KeyringPassphrase []byte
	Bundle            []byte
	Passphrase        []byte // the bundle's
	// ReplaceAliases repoints an alias that exists here with another
	// target to the bundle's target, instead of refusing the import.
	ReplaceAliases bool `json:",omitempty"`
}

// ImportKeyringOutput says what an import did. Key IDs and alias names are
// sorted.
type ImportKeyringOutput struct {
	KeysAdded        []string // not here before
	KeysMerged       []string // here before, with versions added from the bundle
	KeysUnchanged    []string // here before with every version the bundle has
	KeysExpired      []string // pending deletion past their date: not imported
	VersionsAdded    int
	AliasesAdded     []string
	AliasesReplaced  []string // with ReplaceAliases: now pointing at the bundle's key
	AliasesUnchanged []string
	AliasesSkipped   []string // pointing at an expired key: not imported
}

// Backupper exports and imports passphrase-sealed bundles of a whole
// keyring (kmsfs extensions; FORMAT.md §14).
type Backupper interface {
	ExportKeyring(ctx context.Context, in *ExportKeyringInput) (*ExportKeyringOutput, error)
	ImportKeyring(ctx context.Context, in *ImportKeyringInput) (*ImportKeyringOutput, error)
}

// Auditor reads and verifies the audit log.
type Auditor interface {
	Audit(ctx context.Context, f AuditFilter) ([]AuditRecord, error)
	AuditStatus(ctx context.Context) (*AuditStatus, error)
	VerifyAudit(ctx context.Context) error
}

// VersionRetirer retires old key versions: SetMinDecryptionVersion refuses
// versions below v from then on, DestroyVersionsBelow forgets their material.
type VersionRetirer interface {
	SetMinDecryptionVersion(ctx context.Context, keyID string, v uint32) error
	DestroyVersionsBelow(ctx context.Context, keyID string, v uint32) error
}

// RandomGenerator serves GenerateRandom, as AWS KMS does.
type RandomGenerator interface {
	GenerateRandom(ctx context.Context, in *GenerateRandomInput) (*GenerateRandomOutput, error)
}

// Tag is a key's tag, as AWS KMS's Tag.
type Tag struct {
	TagKey   string
	TagValue string
}

// DefaultPolicyName is the only key policy name AWS KMS (and this service)
// knows.
const DefaultPolicyName = "default"

type GetKeyPolicyInput struct {
	KeyId      string
	PolicyName string `json:",omitempty"` // "default" or empty
}

type GetKeyPolicyOutput struct {
	Policy     string
	PolicyName string
}

// PutKeyPolicyInput replaces a key's policy. A key service checks that
// Policy is a JSON object of at most 32 KiB (AWS's limit for key policies)
// and stores it: the policy grammar ([ErrMalformedPolicy]) and the lockout
// safety check, which BypassPolicyLockoutSafetyCheck skips, are the
// business of whoever enforces policies: an [Authorizer] that is a
// [PolicyChecker], which the service asks before it stores a policy.
type PutKeyPolicyInput struct {
	KeyId                          string
	PolicyName                     string `json:",omitempty"`
	Policy                         string
	BypassPolicyLockoutSafetyCheck bool `json:",omitempty"`
}

type ListKeyPoliciesInput struct {
	KeyId  string
	Limit  int    `json:",omitempty"`
	Marker string `json:",omitempty"`
}

type ListKeyPoliciesOutput struct {
	PolicyNames []string
	NextMarker  string `json:",omitempty"`
	Truncated   bool
}

// KeyPolicies reads and replaces key policies, as AWS KMS. Every key has
// one policy, named "default"; a key created without one has AWS's
// default policy (the account root may do everything).
type KeyPolicies interface {
	GetKeyPolicy(ctx context.Context, in *GetKeyPolicyInput) (*GetKeyPolicyOutput, error)
	PutKeyPolicy(ctx context.Context, in *PutKeyPolicyInput) error
	ListKeyPolicies(ctx context.Context, in *ListKeyPoliciesInput) (*ListKeyPoliciesOutput, error)
}

type TagResourceInput struct {
	KeyId string
	Tags  []Tag
}

type UntagResourceInput struct {
	KeyId   string
	TagKeys []string
}

type ListResourceTagsInput struct {
	KeyId  string
	Limit  int    `json:",omitempty"`
	Marker string `json:",omitempty"`
}

type ListResourceTagsOutput struct {
	Tags       []Tag
	NextMarker string `json:",omitempty"`
	Truncated  bool
}

// Tagger tags keys, with AWS's limits: at most 50 tags per key, keys of 1
// to 128 characters not starting with "aws:", values of 0 to 256
// characters. Breaking a limit is [ErrTag] (too many tags:
// [ErrLimitExceeded]).
type Tagger interface {
	TagResource(ctx context.Context, in *TagResourceInput) error
	UntagResource(ctx context.Context, in *UntagResourceInput) error
	ListResourceTags(ctx context.Context, in *ListResourceTagsInput) (*ListResourceTagsOutput, error)
}

type UpdateKeyDescriptionInput struct {
	KeyId       string
	Description string // at most 8192 characters
}

// Describer changes a key's description.
type Describer interface {
	UpdateKeyDescription(ctx context.Context, in *UpdateKeyDescriptionInput) error
}

// Grant operations a grant may allow: AWS's list of grant operations.
var GrantOperations = []string{"Decrypt", "Encrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext",
	"ReEncryptFrom", "ReEncryptTo", "Sign", "Verify", "GetPublicKey", "CreateGrant", "RetireGrant", "DescribeKey",
	"GenerateDataKeyPair", "GenerateDataKeyPairWithoutPlaintext", "GenerateMac", "VerifyMac", "DeriveSharedSecret"}

type CreateGrantInput struct {
	KeyId             string
	GranteePrincipal  string
	RetiringPrincipal string            `json:",omitempty"`
	Operations        []string          // of [GrantOperations]
	Constraints       *GrantConstraints `json:",omitempty"`
	GrantTokens       []string          `json:",omitempty"`
	// Name makes CreateGrant idempotent: the same Name with the same
	// grantee, retiring principal, operations and constraints on the same
	// key returns the existing grant.
	Name string `json:",omitempty"`
}

type CreateGrantOutput struct {
	GrantToken string
	GrantId    string
}

type ListGrantsInput struct {
	KeyId            string
	GrantId          string `json:",omitempty"`
	GranteePrincipal string `json:",omitempty"`
	Limit            int    `json:",omitempty"`
	Marker           string `json:",omitempty"`
}

type ListGrantsOutput struct {
	Grants     []Grant
	NextMarker string `json:",omitempty"`
	Truncated  bool
}

type ListRetirableGrantsInput struct {
	RetiringPrincipal string
	Limit             int    `json:",omitempty"`
	Marker            string `json:",omitempty"`
}

// RetireGrantInput names a grant by GrantToken, or by KeyId and GrantId.
type RetireGrantInput struct {
	GrantToken string `json:",omitempty"`
	KeyId      string `json:",omitempty"`
	GrantId    string `json:",omitempty"`
}

type RevokeGrantInput struct {
	KeyId   string
	GrantId string
}

// Granter manages grants, as AWS KMS. A grant takes effect at once, so its
// token is needed only to name it (RetireGrant) and is accepted in
// GrantTokens as AWS accepts it. RetireGrant is allowed to the grant's
// retiring principal, to its grantee when the grant allows RetireGrant,
// to the account root, and otherwise to whoever the key policy allows
// kms:RetireGrant; RevokeGrant follows the key policy (kms:RevokeGrant).
type Granter interface {
	CreateGrant(ctx context.Context, in *CreateGrantInput) (*CreateGrantOutput, error)
	ListGrants(ctx context.Context, in *ListGrantsInput) (*ListGrantsOutput, error)
	ListRetirableGrants(ctx context.Context, in *ListRetirableGrantsInput) (*ListGrantsOutput, error)
	RetireGrant(ctx context.Context, in *RetireGrantInput) error
	RevokeGrant(ctx context.Context, in *RevokeGrantInput) error
}

// Access key states, as IAM's.
const (
	AccessKeyActive   = "Active"
	AccessKeyInactive = "Inactive"
)

// CreateAccessKeyInput asks for a new access key (kmsfs extension;
// KmsfsService.CreateAccessKey on the wire) that acts as the IAM user
// arn:aws:iam::<account>:user/<Name>, or with Role as the role
// arn:aws:iam::<account>:role/<Role>. Exactly one of them is set; each is
// 1 to 64 characters of [A-Za-z0-9+=,.@_-], as IAM names.
type CreateAccessKeyInput struct {
	Name string `json:",omitempty"`
	Role string `json:",omitempty"`
}

// AccessKey is an access key, shaped as IAM's AccessKey. SecretAccessKey
// is set only in the answer to CreateAccessKey: it is never shown again.
type AccessKey struct {
	AccessKeyId     string
	SecretAccessKey string `json:",omitempty"`
	UserName        string `json:",omitempty"` // the IAM user; empty for a role
	RoleName        string `json:",omitempty"` // kmsfs extension: the role
	Arn             string // kmsfs extension: the principal the key acts as
	Status          string // Active or Inactive
	CreateDate      EpochTime
}

type CreateAccessKeyOutput struct {
	AccessKey AccessKey
}

// ListAccessKeysInput is empty: a listing holds every access key.
type ListAccessKeysInput struct{}

type ListAccessKeysOutput struct {
	// AccessKeyMetadata lists every access key, sorted by ID, without
	// secrets.
	AccessKeyMetadata []AccessKey
}

type AccessKeyIDInput struct {
	AccessKeyId string
}

type UpdateAccessKeyInput struct {
	AccessKeyId string
	Status      string // Active or Inactive
}

// AccessKeys manages the access keys a SigV4 transport authenticates
// requests with (kmsfs extensions; KmsfsService.* on the wire). Access keys
// are this server's credentials: they never travel in keyring bundles.
type AccessKeys interface {
	CreateAccessKey(ctx context.Context, in *CreateAccessKeyInput) (*CreateAccessKeyOutput, error)
	ListAccessKeys(ctx context.Context, in *ListAccessKeysInput) (*ListAccessKeysOutput, error)
	DeleteAccessKey(ctx context.Context, in *AccessKeyIDInput) error
	UpdateAccessKey(ctx context.Context, in *UpdateAccessKeyInput) error
}

// AccessKeyLookup finds an access key's secret for a transport verifying a
// signature. It is never served on the wire. An unknown ID is [ErrNotFound];
// the caller zeroes secret after use.
type AccessKeyLookup interface {
	LookupAccessKey(ctx context.Context, id string) (secret []byte, principal Principal, active bool, err error)
}

// AuditAppender lets a transport audit what it refused before the service
// saw it (a bad signature, an unknown access key). Seq, Hash and Count are
// the log's to set; an empty Outcome is refused.
type AuditAppender interface {
	AppendAudit(ctx context.Context, r AuditRecord) error
}

// GetKeyLastUsageInput names a key, as AWS's GetKeyLastUsage.
type GetKeyLastUsageInput struct {
	KeyId string
}

// KeyLastUsage is the last successful cryptographic use of a key.
type KeyLastUsage struct {
	Operation         string // Encrypt, Decrypt, Sign, ... (AWS's KeyLastUsageTrackingOperation)
	Timestamp         EpochTime
	CloudTrailEventId string `json:",omitempty"` // the audit record's event ID ([AuditRecord.EventID])
}

// GetKeyLastUsageOutput is GetKeyLastUsage's answer. KeyLastUsage is nil
// when the key has not been used since TrackingStartDate.
type GetKeyLastUsageOutput struct {
	KeyId             string
	KeyLastUsage      *KeyLastUsage `json:",omitempty"`
	TrackingStartDate EpochTime
	KeyCreationDate   EpochTime
}

// UsageReporter says when a key was last used, as AWS KMS's
// GetKeyLastUsage; the local keyring answers from its audit log.
type UsageReporter interface {
	GetKeyLastUsage(ctx context.Context, in *GetKeyLastUsageInput) (*GetKeyLastUsageOutput, error)
}
