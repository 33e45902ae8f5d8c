package main

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/kmsfs/kmsfs/envelope"
	"github.com/kmsfs/kmsfs/internal/volume"
	"github.com/kmsfs/kmsfs/keyring"
)

func TestExitCode(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int
	}{
		{nil, exitOK},
		{errors.New("boom"), exitFailure},
		{usageError{"bad"}, exitUsage},
		{fmt.Errorf("open: %w", keyring.ErrWrongPassphrase), exitPassphrase},
		{errNoPassphrase, exitPassphrase},
		{errEmptyPassphrase, exitPassphrase},
		{fmt.Errorf("x: %w", keyring.ErrNotFound), exitNotFound},
		{keyring.ErrorFromType("NotFoundException", "gone"), exitNotFound},
		{fmt.Errorf("d: %w", volume.ErrNotInitialised), exitNotFound},
		{keyring.ErrorFromType("DisabledException", ""), exitKeyState},
		{fmt.Errorf("k: %w", keyring.ErrInvalidState), exitKeyState},
		{fmt.Errorf("chunk 3: %w", envelope.ErrUnauthenticated), exitIntegrity},
		{fmt.Errorf("f: %w", envelope.ErrTruncated), exitIntegrity},
		{keyring.ErrorFromType("InvalidCiphertextException", ""), exitIntegrity},
		{fmt.Errorf("decrypt: %w", envelope.ErrBadMagic), exitIntegrity},
		{fmt.Errorf("decrypt: %w", envelope.ErrUnsupportedVersion), exitIntegrity},
		{fmt.Errorf("decrypt: %w", envelope.ErrBadHeader), exitIntegrity},
		{fmt.Errorf("c: %w: bad JSON", volume.ErrBadConfig), exitIntegrity},
		{fmt.Errorf("open: %w", keyring.ErrKeyringCorrupt), exitIntegrity},
		{fmt.Errorf("badger: %w", keyring.ErrLocked), exitKeyringLocked},
	} {
		if got := exitCode(tc.err); got != tc.want {
			t.Errorf("exitCode(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}

// TestHelpHasExample: every leaf command documents an example.
func TestHelpHasExample(t *testing.T) {
	app := newApp(nil, nil, nil)
	var walk func(prefix string, cmds []*cli.Command)
	walk = func(prefix string, cmds []*cli.Command) {
		for _, c := range cmds {
			if len(c.Subcommands) > 0 {
				walk(prefix+c.Name+" ", c.Subcommands)
				continue
			}
			if !strings.Contains(c.UsageText, "Example: kmsfs ") {
				t.Errorf("kmsfs %s%s: --help has no example", prefix, c.Name)
			}
		}
	}
	walk("", app.Commands)
}
