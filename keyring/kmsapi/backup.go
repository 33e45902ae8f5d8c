package kmsapi

import (
	"context"
	"errors"

	"github.com/kmsfs/kmsfs/keyring"
)

var _ keyring.Backupper = (*Client)(nil)

// maxImportBody bounds an ImportKeyring request: a bundle of
// [keyring.MaxBundleSize] in base64, a passphrase and JSON framing. Other
// requests keep [HandlerOptions.MaxBodyBytes].
const maxImportBody = 8 << 20

const (
	targetExportKeyring = kmsfsPrefix + "ExportKeyring"
	targetImportKeyring = kmsfsPrefix + "ImportKeyring"
)

// backupOps serves the keyring.Backupper operations when svc has them; a service
// without them answers UnknownOperationException, as for any operation it
// does not know.
func backupOps(svc keyring.Service) map[string]endpoint {
	b, ok := svc.(keyring.Backupper)
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

// ExportKeyring implements [keyring.Backupper] over the wire.
func (c *Client) ExportKeyring(ctx context.Context, in *keyring.ExportKeyringInput) (*keyring.ExportKeyringOutput, error) {
	return call[keyring.ExportKeyringOutput](ctx, c, targetExportKeyring, in)
}

// ImportKeyring implements [keyring.Backupper] over the wire. A bundle the server
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
