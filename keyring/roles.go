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
