package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/google/uuid"
	"github.com/urfave/cli/v2"

	"github.com/kmsfs/kmsfs/internal/maintain"
	"github.com/kmsfs/kmsfs/internal/session"
	"github.com/kmsfs/kmsfs/internal/volume"
	"github.com/kmsfs/kmsfs/keyring"
)

// errFilesBehind refuses to retire or destroy versions that files of
// known volumes still need.
var errFilesBehind = errors.New("files of known volumes still need these versions")

// maxListedBehind is how many files a refusal names.
const maxListedBehind = 20

func minVersionCommand() *cli.Command {
	return &cli.Command{
		Name:  "min-version",
		Usage: "retire a key's versions below N: they refuse to unwrap (files under them become unreadable)",
		UsageText: `kmsfs key min-version [--force] [--jobs N] KEY N

Sets KEY's minimum decryption version (as Vault transit's min_decryption_version).
Before raising it, scans every known CIPHERDIR (those initialised or mounted
with this keyring) and refuses if any file is still wrapped under a version
below N, or cannot be checked, naming up to 20 of them: run kmsfs rewrap on
those trees first, or pass --force. Lowering it again is allowed until the
versions are destroyed (kmsfs key destroy-versions).

Example: kmsfs key rotate alias/kmsfs && kmsfs rewrap ~/cipher && kmsfs key min-version alias/kmsfs 2`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "force", Usage: "retire even if files still need the versions"},
			jobsFlag(),
		},
		Action: versionAction(2, minVersion),
	}
}

func destroyVersionsCommand() *cli.Command {
	return &cli.Command{
		Name:  "destroy-versions",
		Usage: "destroy the material of a key's versions below N for good (they must be retired first)",
		UsageText: `kmsfs key destroy-versions [--force] [--jobs N] --below N KEY

Deletes the key material of every version below N. N must not exceed the key's
minimum decryption version (kmsfs key min-version). Files still wrapped under
those versions become unrecoverable, so known CIPHERDIRs are scanned first as
for min-version, and the command refuses unless --force.

Example: kmsfs key destroy-versions --below 2 alias/kmsfs`,
		Flags: []cli.Flag{
			&cli.UintFlag{Name: "below", Usage: "destroy versions below `N`", Required: true},
			&cli.BoolFlag{Name: "force", Usage: "destroy even if files still need the versions"},
			jobsFlag(),
		},
		Action: versionAction(1, destroyVersions),
	}
}

// versionAction opens the keyring, resolves KEY and hands f the key's
// metadata and the retiring interface of the service (local or remote).
func versionAction(nargs int, f func(c *cli.Context, svc *service, vr keyring.VersionRetirer, m keyring.KeyMetadata) (any, string, error)) cli.ActionFunc {
	return serviceActionLocal(nargs, func(c *cli.Context, svc *service) (any, string, error) {
		vr, ok := svc.Service.(keyring.VersionRetirer)
		if !ok {
			return nil, "", fmt.Errorf("%w: this keyring service cannot retire versions", keyring.ErrUnsupported)
		}
		out, err := svc.DescribeKey(c.Context, &keyring.KeyIDInput{KeyId: c.Args().First()})
		if err != nil {
			return nil, "", err
		}
		return f(c, svc, vr, out.KeyMetadata)
	})
}

// serviceActionLocal is serviceAction with the *service (for keysFor).
func serviceActionLocal(n int, f func(c *cli.Context, svc *service) (any, string, error)) cli.ActionFunc {
	return func(c *cli.Context) error {
		if err := needArgs(c, n); err != nil {
			return err
		}
		svc, err := openService(c, false)
		if err != nil {
			return err
		}
		defer svc.Close()
		result, text, err := f(c, svc)
		if err != nil {
			return err
		}
		return printResult(c, result, text)
	}
}

// versionResult is the --json output of min-version and destroy-versions.
type versionResult struct {
	KeyId                    string
	MinimumDecryptionVersion uint32 `json:",omitempty"`
	DestroyedBelow           uint32 `json:",omitempty"`
	FilesBehind              int64  // files still under the versions (only with --force)
}

func minVersion(c *cli.Context, svc *service, vr keyring.VersionRetirer, m keyring.KeyMetadata) (any, string, error) {
	n, err := parseVersion(c.Args().Get(1))
	if err != nil {
		return nil, "", err
	}
	var behind int64
	if n > m.MinimumDecryptionVersion {
		if behind, err = checkBehind(c, svc, m, n); err != nil {
			return nil, "", err
		}
	}
	if err := vr.SetMinDecryptionVersion(c.Context, m.KeyId, n); err != nil {
		return nil, "", err
	}
	text := fmt.Sprintf("%s: minimum decryption version %d (versions below it refuse to unwrap)", m.KeyId, n)
	if behind > 0 {
		text += fmt.Sprintf("\nwarning: %s of known volumes can no longer be read until the minimum is lowered", plural(behind, "file"))
	}
	return versionResult{KeyId: m.KeyId, MinimumDecryptionVersion: n, FilesBehind: behind}, text, nil
}

func destroyVersions(c *cli.Context, svc *service, vr keyring.VersionRetirer, m keyring.KeyMetadata) (any, string, error) {
	n := c.Uint("below")
	if n < 1 || n > 1<<32-1 {
		return nil, "", usageError{"--below: want a version from 1"}
	}
	below := uint32(n)
	if below > m.MinimumDecryptionVersion {
		return nil, "", usageError{fmt.Sprintf("--below %d is above the minimum decryption version %d of %s: retire the versions first (kmsfs key min-version %s %d)",
			below, max(m.MinimumDecryptionVersion, 1), m.KeyId, c.Args().First(), below)}
	}
	behind, err := checkBehind(c, svc, m, below)
	if err != nil {
		return nil, "", err
	}
	if err := vr.DestroyVersionsBelow(c.Context, m.KeyId, below); err != nil {
		return nil, "", err
	}
	text := fmt.Sprintf("%s: destroyed the versions below %d", m.KeyId, below)
	if behind > 0 {
		text += fmt.Sprintf("\nwarning: %s of known volumes are now unrecoverable", plural(behind, "file"))
	}
	return versionResult{KeyId: m.KeyId, DestroyedBelow: below, FilesBehind: behind}, text, nil
}

func parseVersion(s string) (uint32, error) {
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil || n == 0 {
		return 0, usageError{fmt.Sprintf("version %q: want a number from 1", s)}
	}
	return uint32(n), nil
}

// checkBehind scans every known volume for files whose DEK is wrapped
// under a version of m's key below n, or whose header cannot be checked.
// Without --force any such file is a refusal naming up to 20 of them; with
// it, their number is returned for a warning.
func checkBehind(c *cli.Context, svc *service, m keyring.KeyMetadata, n uint32) (int64, error) {
	dirs, err := session.KnownVolumes(c.String("keyring"))
	if err != nil {
		return 0, err
	}
	var found behindList
	for _, dir := range dirs {
		if err := scanVolume(c, svc, m, n, dir, &found); err != nil {
			found.add(dir, fmt.Errorf("cannot check this volume (if it is gone for good, use --force): %w", err))
		}
	}
	if found.count == 0 || c.Bool("force") {
		return found.count, nil
	}
	err = fmt.Errorf("%s: refusing for versions below %d: %w: %s (run kmsfs rewrap on their trees, or use --force)",
		m.KeyId, n, errFilesBehind, plural(found.count, "file"))
	fmt.Fprintf(c.App.ErrWriter, "kmsfs: %s:\n%s\n", err, found.text())
	return 0, reportedError{err}
}

// scanVolume adds the files of dir that need versions below n to found.
func scanVolume(c *cli.Context, svc *service, m keyring.KeyMetadata, n uint32, dir string, found *behindList) error {
	if _, err := os.Stat(dir); err != nil {
		return err
	}
	id, err := uuid.Parse(m.KeyId)
	if err != nil {
		return err
	}
	scan, err := maintain.NewVersionScan(dir, keyring.NewKeyService(svc, m.KeyId), id, n)
	if err != nil {
		return err
	}
	defer scan.Close()
	s, err := maintain.Run(c.Context, dir, scan.Task(), maintain.Options{Jobs: c.Int("jobs")})
	if err != nil {
		return err
	}
	for _, f := range s.Failures {
		found.add(filepath.Join(dir, f.Path), f.Err)
	}
	found.count += s.Failed - int64(len(s.Failures)) // beyond the listed ones
	return checkNameKey(dir, m.KeyId, n, found)
}

// checkNameKey adds dir's kmsfs.conf to found if its wrapped name key
// (encrypted names) is under a version of keyID below n: every name of the
// volume would become unreadable.
func checkNameKey(dir, keyID string, n uint32, found *behindList) error {
	conf, err := volume.Load(dir)
	if err != nil {
		return err
	}
	if wk := conf.WrappedNameKey; !conf.PlaintextNames && wk != nil && wk.KeyId == keyID && wk.Version < n {
		found.add(filepath.Join(dir, volume.ConfigName), fmt.Errorf("%w: the name key is wrapped under version %d", maintain.ErrBehind, wk.Version))
	}
	return nil
}

// behindList counts files that block a retirement and keeps the first few.
type behindList struct {
	count int64
	lines []string
}

func (b *behindList) add(path string, err error) {
	b.count++
	if len(b.lines) < maxListedBehind {
		b.lines = append(b.lines, "  "+path+": "+oneLine(err))
	}
}

func (b *behindList) text() string {
	s := strings.Join(b.lines, "\n")
	if more := b.count - int64(len(b.lines)); more > 0 {
		s += fmt.Sprintf("\n  ... and %d more", more)
	}
	return s
}
