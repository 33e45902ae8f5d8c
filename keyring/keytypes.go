package keyring

import "context"

// Key types beyond symmetric encryption keys: asymmetric signing,
// encryption and key agreement keys, HMAC keys, data key pairs, imported
// key material (BYOK) and multi-Region keys, with AWS KMS's shapes. The
// cryptography and AWS's rules per KeySpec are package keyspec's; a key
// service that has them serves the optional roles below.

// Key states of keys with imported material, as AWS KMS's.
const (
	// StatePendingImport is a key with Origin EXTERNAL whose material
	// was never imported, was deleted or has expired.
	StatePendingImport = "PendingImport"
)

// Origins and expiration models, as AWS KMS's.
const (
	OriginAWSKMS             = "AWS_KMS"
	OriginExternal           = "EXTERNAL"
	ExpirationKeyMaterial    = "KEY_MATERIAL_EXPIRES"
	ExpirationNoKeyMaterial  = "KEY_MATERIAL_DOES_NOT_EXPIRE"
	MultiRegionPrimary       = "PRIMARY"
	MultiRegionReplica       = "REPLICA"
	MultiRegionKeyIDPrefix   = "mrk-"
	defaultMultiRegionKeyLen = len(MultiRegionKeyIDPrefix) + 32
)

// IsMultiRegionKeyID reports whether id has the form of a multi-Region key
// ID: "mrk-" and 32 lowercase hex digits.
func IsMultiRegionKeyID(id string) bool {
	if len(id) != defaultMultiRegionKeyLen || id[:len(MultiRegionKeyIDPrefix)] != MultiRegionKeyIDPrefix {
		return false
	}
	for _, c := range []byte(id[len(MultiRegionKeyIDPrefix):]) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// MultiRegionConfiguration is KeyMetadata's, as AWS KMS's.
type MultiRegionConfiguration struct {
	MultiRegionKeyType string // PRIMARY or REPLICA
	PrimaryKey         *MultiRegionKey
	ReplicaKeys        []MultiRegionKey
}

// MultiRegionKey names one key of a multi-Region key's set.
type MultiRegionKey struct {
	Arn    string
	Region string
}

type SignInput struct {
	KeyId            string
	Message          []byte
	MessageType      string `json:",omitempty"` // RAW (default) or DIGEST
	SigningAlgorithm string
	GrantTokens      []string `json:",omitempty"`
}

type SignOutput struct {
	KeyId            string // the key ARN
	Signature        []byte
	SigningAlgorithm string
}

type VerifyInput struct {
	KeyId            string
	Message          []byte
	MessageType      string `json:",omitempty"`
	Signature        []byte
	SigningAlgorithm string
	GrantTokens      []string `json:",omitempty"`
}

// VerifyOutput is only returned for a valid signature; an invalid one is
// [ErrInvalidSignature], as AWS answers.
type VerifyOutput struct {
	KeyId            string
	SignatureValid   bool
	SigningAlgorithm string
}

type GetPublicKeyInput struct {
	KeyId       string
	GrantTokens []string `json:",omitempty"`
}

type GetPublicKeyOutput struct {
	KeyId                  string
	PublicKey              []byte // DER SubjectPublicKeyInfo
	CustomerMasterKeySpec  string
	KeySpec                string
	KeyUsage               string
	EncryptionAlgorithms   []string `json:",omitempty"`
	SigningAlgorithms      []string `json:",omitempty"`
	KeyAgreementAlgorithms []string `json:",omitempty"`
}

type GenerateMacInput struct {
	KeyId        string
	Message      []byte
	MacAlgorithm string
	GrantTokens  []string `json:",omitempty"`
}

type GenerateMacOutput struct {
	Mac          []byte
	MacAlgorithm string
	KeyId        string
}

type VerifyMacInput struct {
	KeyId        string
	Message      []byte
	MacAlgorithm string
	Mac          []byte
	GrantTokens  []string `json:",omitempty"`
}

// VerifyMacOutput is only returned for a valid MAC; an invalid one is
// [ErrInvalidMac].
type VerifyMacOutput struct {
	KeyId        string
	MacValid     bool
	MacAlgorithm string
}

type GenerateDataKeyPairInput struct {
	KeyId             string
	KeyPairSpec       string
	EncryptionContext map[string]string `json:",omitempty"`
	GrantTokens       []string          `json:",omitempty"`
	Recipient         *RecipientInfo    `json:",omitempty"` // refused: no Nitro enclaves
}

type GenerateDataKeyPairOutput struct {
	PrivateKeyCiphertextBlob []byte
	PrivateKeyPlaintext      []byte // PKCS#8 DER
	PublicKey                []byte // DER SubjectPublicKeyInfo
	KeyId                    string
	KeyPairSpec              string
}

type GenerateDataKeyPairWithoutPlaintextOutput struct {
	PrivateKeyCiphertextBlob []byte
	PublicKey                []byte
	KeyId                    string
	KeyPairSpec              string
}

type DeriveSharedSecretInput struct {
	KeyId                 string
	KeyAgreementAlgorithm string
	PublicKey             []byte         // the peer's, DER SubjectPublicKeyInfo
	GrantTokens           []string       `json:",omitempty"`
	Recipient             *RecipientInfo `json:",omitempty"` // refused
}

type DeriveSharedSecretOutput struct {
	KeyId                 string
	SharedSecret          []byte
	KeyAgreementAlgorithm string
	KeyOrigin             string
}

// Asymmetric serves the operations of asymmetric keys and data key pairs,
// as AWS KMS does.
type Asymmetric interface {
	Sign(ctx context.Context, in *SignInput) (*SignOutput, error)
	Verify(ctx context.Context, in *VerifyInput) (*VerifyOutput, error)
	GetPublicKey(ctx context.Context, in *GetPublicKeyInput) (*GetPublicKeyOutput, error)
	DeriveSharedSecret(ctx context.Context, in *DeriveSharedSecretInput) (*DeriveSharedSecretOutput, error)
	GenerateDataKeyPair(ctx context.Context, in *GenerateDataKeyPairInput) (*GenerateDataKeyPairOutput, error)
	GenerateDataKeyPairWithoutPlaintext(ctx context.Context, in *GenerateDataKeyPairInput) (*GenerateDataKeyPairWithoutPlaintextOutput, error)
}

// Macer serves HMAC keys.
type Macer interface {
	GenerateMac(ctx context.Context, in *GenerateMacInput) (*GenerateMacOutput, error)
	VerifyMac(ctx context.Context, in *VerifyMacInput) (*VerifyMacOutput, error)
}

type GetParametersForImportInput struct {
	KeyId             string
	WrappingAlgorithm string
	WrappingKeySpec   string
}

type GetParametersForImportOutput struct {
	KeyId             string
	ImportToken       []byte
	PublicKey         []byte // DER SubjectPublicKeyInfo of the wrapping key
	ParametersValidTo EpochTime
}

type ImportKeyMaterialInput struct {
	KeyId                string
	ImportToken          []byte
	EncryptedKeyMaterial []byte
	ValidTo              *EpochTime `json:",omitempty"`
	ExpirationModel      string     `json:",omitempty"` // default KEY_MATERIAL_EXPIRES
}

type ImportKeyMaterialOutput struct {
	KeyId string
}

type DeleteImportedKeyMaterialOutput struct {
	KeyId string
}

// Importer imports key material (BYOK), as AWS KMS does.
type Importer interface {
	GetParametersForImport(ctx context.Context, in *GetParametersForImportInput) (*GetParametersForImportOutput, error)
	ImportKeyMaterial(ctx context.Context, in *ImportKeyMaterialInput) (*ImportKeyMaterialOutput, error)
	DeleteImportedKeyMaterial(ctx context.Context, in *KeyIDInput) (*DeleteImportedKeyMaterialOutput, error)
}

type ReplicateKeyInput struct {
	KeyId                          string
	ReplicaRegion                  string
	Policy                         string `json:",omitempty"`
	BypassPolicyLockoutSafetyCheck bool   `json:",omitempty"`
	Description                    string `json:",omitempty"`
	Tags                           []Tag  `json:",omitempty"`
}

type ReplicateKeyOutput struct {
	ReplicaKeyMetadata KeyMetadata
	ReplicaPolicy      string
	ReplicaTags        []Tag
}

type UpdatePrimaryRegionInput struct {
	KeyId         string
	PrimaryRegion string
}

// Replicator serves multi-Region keys. The region of a request is its
// principal's ([Principal.Region]), or the service's default.
type Replicator interface {
	ReplicateKey(ctx context.Context, in *ReplicateKeyInput) (*ReplicateKeyOutput, error)
	UpdatePrimaryRegion(ctx context.Context, in *UpdatePrimaryRegionInput) error
}
