package local

import (
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/kmsfs/kmsfs/keyring"
)

// corruptError is an [keyring.ErrKeyringCorrupt] with a detail that never holds
// secrets.
type corruptError struct{ detail string }

func (e *corruptError) Error() string { return keyring.ErrKeyringCorrupt.Error() + ": " + e.detail }
func (e *corruptError) Unwrap() []error {
	return []error{keyring.ErrKeyringCorrupt, keyring.ErrInternal}
}

func corrupt(format string, a ...any) error {
	return &corruptError{detail: fmt.Sprintf(format, a...)}
}

// DefaultKDF is used when [Options.KDF] is zero. It follows the OWASP
// password storage advice for Argon2id (m=46 MiB, t=1, p=1 or stronger),
// spending more memory and passes because a keyring is unlocked once per
// mount, not once per request.
var DefaultKDF = keyring.KDFParams{Time: 3, MemoryKiB: 64 * 1024, Threads: 4}

// Options configure [Open].
type Options struct {
	// Create makes Open create a new keyring when the directory holds none.
	// Without it, Open of an empty or missing directory fails with
	// [keyring.ErrNoKeyring].
	Create bool
	// KDF is used when a keyring is created; zero means [DefaultKDF]. An
	// existing keyring keeps the parameters it was created (or last
	// re-keyed with [Keyring.Passwd]) with.
	KDF keyring.KDFParams
	// Clock returns the current time; nil means time.Now. Tests use a fake
	// clock to reach rotation and deletion dates.
	Clock func() time.Time
	// Rand is the source of salts, nonces, key material and key IDs; nil
	// means crypto/rand. It must be safe for concurrent use.
	Rand io.Reader
	// Region and Account appear in ARNs; they default to "local" and
	// "000000000000" (arn:aws:kms:local:000000000000:key/<uuid>).
	Region  string
	Account string
	// Logger receives warnings (Badger errors, audit write failures). It
	// never receives key material, passphrases or plaintext. Nil discards.
	Logger *slog.Logger
}

// Defaults for Options.
const (
	DefaultRegion  = "local"
	DefaultAccount = "000000000000"
)

func (o Options) withDefaults() Options {
	if o.KDF.IsZero() {
		o.KDF = DefaultKDF
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	if o.Region == "" {
		o.Region = DefaultRegion
	}
	if o.Account == "" {
		o.Account = DefaultAccount
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}
