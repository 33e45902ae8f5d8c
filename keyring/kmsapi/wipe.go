package kmsapi

import "github.com/kmsfs/kmsfs/keyring"

// Per-operation wipers for [wipingOp]: each clears the plaintexts, data keys
// and passphrases of a decoded input and of an output (which may be nil)
// once the response is written, so that they do not linger in the server's
// heap until the garbage collector reuses it (best effort: encoding/json
// keeps its own pooled buffers). The service must not keep references to
// them, and the local keyring does not. Operations whose members hold no
// secrets (ciphertexts, sealed bundles, metadata) use plain op.

func wipeEncrypt(in *keyring.EncryptInput, _ *keyring.EncryptOutput) { clear(in.Plaintext) }

func wipeDecrypt(_ *keyring.DecryptInput, out *keyring.DecryptOutput) {
	if out != nil {
		clear(out.Plaintext)
	}
}

func wipeGenerateDataKey(_ *keyring.GenerateDataKeyInput, out *keyring.GenerateDataKeyOutput) {
	if out != nil {
		clear(out.Plaintext)
	}
}

func wipeWrapDEK(in *keyring.WrapDEKInput, _ *keyring.WrapDEKOutput) { clear(in.Plaintext) }

func wipeUnwrapDEK(_ *keyring.UnwrapDEKInput, out *keyring.UnwrapDEKOutput) {
	if out != nil {
		clear(out.Plaintext)
	}
}

func wipeGenerateRandom(_ *keyring.GenerateRandomInput, out *keyring.GenerateRandomOutput) {
	if out != nil {
		clear(out.Plaintext)
	}
}

func wipeExport(in *keyring.ExportKeyringInput, _ *keyring.ExportKeyringOutput) {
	clear(in.KeyringPassphrase)
	clear(in.Passphrase)
}

func wipeImport(in *keyring.ImportKeyringInput, _ *keyring.ImportKeyringOutput) {
	clear(in.KeyringPassphrase)
	clear(in.Passphrase)
}
