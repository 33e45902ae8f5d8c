package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/kmsfs/kmsfs/envelope"
	"github.com/kmsfs/kmsfs/internal/volume"
	"github.com/kmsfs/kmsfs/keyring"
)

// Exit codes, documented in the README. Scripts may rely on them.
const (
	exitOK            = 0
	exitFailure       = 1 // anything not listed below
	exitUsage         = 2 // bad arguments or flags
	exitPassphrase    = 3 // wrong or missing passphrase
	exitNotFound      = 4 // no such key, alias, keyring or CIPHERDIR config
	exitKeyState      = 5 // key disabled, pending deletion, or version retired
	exitIntegrity     = 6 // authentication failed: tampered, truncated or foreign data
	exitKeyringLocked = 7 // keyring in use by another process without a socket
)

// usageError is a mistake in how kmsfs was called.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// exitCode maps an error to kmsfs's exit code. It is the only place that does.
func exitCode(err error) int {
	var usage usageError
	var exit cli.ExitCoder
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &usage):
		return exitUsage
	case errors.Is(err, keyring.ErrWrongPassphrase), errors.Is(err, errNoPassphrase), errors.Is(err, errEmptyPassphrase):
		return exitPassphrase
	case errors.Is(err, keyring.ErrNotFound), errors.Is(err, keyring.ErrNoKeyring),
		errors.Is(err, volume.ErrNotInitialised):
		return exitNotFound
	case errors.Is(err, keyring.ErrDisabled), errors.Is(err, keyring.ErrInvalidState),
		errors.Is(err, keyring.ErrVersionRetired):
		return exitKeyState
	case integrityFailure(err):
		return exitIntegrity
	case errors.Is(err, keyring.ErrLocked):
		return exitKeyringLocked
	case errors.As(err, &exit):
		return exit.ExitCode()
	}
	return exitFailure
}

// integrityFailure reports whether err says that data failed
// authentication or is not what kmsfs wrote: tampered, truncated, foreign
// (another format, a header kmsfs cannot parse) or a damaged config or
// keyring.
func integrityFailure(err error) bool {
	for _, s := range []error{
		// ErrBadHeader covers every header error: bad magic, version, flags.
		envelope.ErrUnauthenticated, envelope.ErrTruncated, envelope.ErrBadHeader,
		keyring.ErrInvalidCiphertext, keyring.ErrIncorrectKey, keyring.ErrKeyringCorrupt,
		volume.ErrBadConfig, volume.ErrConfigTampered,
	} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// markUsageErrors makes flag-parsing errors of every command usage errors,
// so they exit with exitUsage.
func markUsageErrors(cmds []*cli.Command) {
	for _, c := range cmds {
		c.OnUsageError = onUsageError
		markUsageErrors(c.Subcommands)
	}
}

func onUsageError(_ *cli.Context, err error, _ bool) error {
	return usageError{err.Error()}
}

// needArgs checks the number of positional arguments.
func needArgs(c *cli.Context, n int) error {
	if c.NArg() != n {
		return usageError{fmt.Sprintf("%s: want %d argument(s), got %d (see --help)", c.Command.FullName(), n, c.NArg())}
	}
	return nil
}

// oneLine keeps an error message on one line for the terminal.
func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}
