package local

import (
	"context"
	"fmt"
	"io"

	"github.com/kmsfs/kmsfs/keyring"
)

// maxRandomBytes bounds GenerateRandom, as AWS KMS.
const maxRandomBytes = 1024

// GenerateRandom returns NumberOfBytes (1 to 1024) bytes from the
// keyring's random source, as AWS KMS's GenerateRandom, which tooling uses
// to make salts and tokens. A custom key store or a Nitro enclave recipient
// is refused with [keyring.ErrUnsupported].
func (k *Keyring) GenerateRandom(ctx context.Context, in *keyring.GenerateRandomInput) (*keyring.GenerateRandomOutput, error) {
	out, err := k.generateRandom(in)
	k.auditUse(ctx, keyring.AuditRecord{Op: "GenerateRandom"}, keyUse{}, err)
	return out, err
}

func (k *Keyring) generateRandom(in *keyring.GenerateRandomInput) (*keyring.GenerateRandomOutput, error) {
	switch {
	case in.CustomKeyStoreId != "":
		return nil, fmt.Errorf("%w: custom key stores", keyring.ErrUnsupported)
	case in.Recipient != nil:
		return nil, fmt.Errorf("%w: Recipient (Nitro enclaves)", keyring.ErrUnsupported)
	case in.NumberOfBytes < 1 || in.NumberOfBytes > maxRandomBytes:
		return nil, fmt.Errorf("%w: NumberOfBytes %d not in 1..%d", keyring.ErrValidation, in.NumberOfBytes, maxRandomBytes)
	}
	if err := k.checkOpen(); err != nil {
		return nil, err
	}
	b := make([]byte, in.NumberOfBytes)
	if _, err := io.ReadFull(k.opts.Rand, b); err != nil {
		return nil, fmt.Errorf("%w: reading random bytes: %w", keyring.ErrInternal, err)
	}
	return &keyring.GenerateRandomOutput{Plaintext: b}, nil
}
