package kmsapi

import (
	"context"
	"errors"

	"github.com/kmsfs/kmsfs/keyring"
)

// Backupper exports and imports whole keyrings (kmsfs extensions
// KmsfsService.ExportKeyring and KmsfsService.ImportKeyring). The local
// *keyring.Keyring implements it, and so does [Client], so that `kmsfs
// keyring export` and `import` work whether or not a mount owns the
// keyring.
//
// Both requests carry two passphrases (the keyring's and the bundle's) and
// an export's response carries the sealed bundle. They travel only over the
// unix socket, which is mode 0600 and admits only the server's uid and root
// (see the package documentation); a caller there can already use every
// key, so the keyring passphrase both require is what keeps it from also
// taking the key material away (export) or planting a key whose material
// it knows and repointing an alias at it (import).
type Backupper interface {
	ExportKeyring(ctx context.Context, in *keyring.ExportKeyringInput) (*keyring.ExportKeyringOutput, error)
	ImportKeyring(ctx context.Context, in *keyring.ImportKeyringInput) (*keyring.ImportKeyringOutput, error)
}

var (
	_ Backupper = (*keyring.Keyring)(nil)
	_ Backupper = (*Client)(nil)
)

// maxImportBody bounds an ImportKeyring request: a bundle of
// [keyring.MaxBundleSize] in base64, a passphrase and JSON framing. Other
// requests keep [HandlerOptions.MaxBodyBytes].
const maxImportBody = 8 << 20

const (
	targetExportKeyring = kmsfsPrefix + "ExportKeyring"
	targetImportKeyring = kmsfsPrefix + "ImportKeyring"
)

// backupOps serves the Backupper operations when svc has them; a service
// without them answers UnknownOperationException, as for any operation it
// does not know.
func backupOps(svc keyring.Service) map[string]endpoint {
	b, ok := svc.(Backupper)
	if !ok {
		return nil
	}
	return map[string]endpoint{
		targetExportKeyring: wipingOp(b.ExportKeyring, wipeExport),
		targetImportKeyring: wipingOp(b.ImportKeyring, wipeImport),
	}
}

// bodyLimit is the request body bound for target.
func (h *handler) bodyLimit(target string) int64 {
	if target == targetImportKeyring {
		return max(h.maxBody, maxImportBody)
	}
	return h.maxBody
}

// ExportKeyring implements [Backupper] over the wire.
func (c *Client) ExportKeyring(ctx context.Context, in *keyring.ExportKeyringInput) (*keyring.ExportKeyringOutput, error) {
	return call[keyring.ExportKeyringOutput](ctx, c, targetExportKeyring, in)
}

// ImportKeyring implements [Backupper] over the wire. A bundle the server
// found corrupt arrives as InvalidCiphertextException; the error returned
// here matches [keyring.ErrBundleCorrupt] again, as a local import's does.
func (c *Client) ImportKeyring(ctx context.Context, in *keyring.ImportKeyringInput) (*keyring.ImportKeyringOutput, error) {
	out, err := call[keyring.ImportKeyringOutput](ctx, c, targetImportKeyring, in)
	if errors.Is(err, keyring.ErrInvalidCiphertext) {
		return nil, &bundleError{err}
	}
	return out, err
}

// bundleError marks a remote InvalidCiphertextException from ImportKeyring,
// where the only ciphertext is the bundle.
type bundleError struct{ err error }

func (e *bundleError) Error() string   { return e.err.Error() }
func (e *bundleError) Unwrap() []error { return []error{keyring.ErrBundleCorrupt, e.err} }
