package keyring

import "fmt"

// KDFParams are the Argon2id parameters that stretch the passphrase into
// the key-encryption key.
type KDFParams struct {
	Time      uint32 // passes over memory, at least 1
	MemoryKiB uint32 // memory in KiB, at least 8*Threads
	Threads   uint8  // parallelism, at least 1
}

// Bounds on stored KDF parameters, so a corrupted or hostile "meta/root"
// record cannot make Open allocate without limit.
const (
	maxKDFTime      = 64
	maxKDFMemoryKiB = 4 * 1024 * 1024 // 4 GiB
)

// IsZero reports whether p is unset, meaning "the default".
func (p KDFParams) IsZero() bool { return p == KDFParams{} }

// Validate refuses parameters outside the bounds above, wrapping
// [ErrValidation].
func (p KDFParams) Validate() error {
	switch {
	case p.Time < 1 || p.Time > maxKDFTime:
		return fmt.Errorf("%w: argon2id time %d out of range 1..%d", ErrValidation, p.Time, maxKDFTime)
	case p.Threads < 1:
		return fmt.Errorf("%w: argon2id threads must be at least 1", ErrValidation)
	case p.MemoryKiB < 8*uint32(p.Threads) || p.MemoryKiB > maxKDFMemoryKiB:
		return fmt.Errorf("%w: argon2id memory %d KiB out of range %d..%d", ErrValidation,
			p.MemoryKiB, 8*uint32(p.Threads), maxKDFMemoryKiB)
	}
	return nil
}
