package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/kmsfs/kmsfs/internal/fsutil"
	"github.com/kmsfs/kmsfs/keyring"
	"github.com/kmsfs/kmsfs/keyring/kmsapi"
	"github.com/kmsfs/kmsfs/keyring/local"
)

// envBundlePassphrase holds a keyring bundle's passphrase, for scripts.
const envBundlePassphrase = "KMSFS_BUNDLE_PASSPHRASE"

func bundlePassfileFlag() cli.Flag {
	return &cli.StringFlag{Name: "bundle-passfile", Usage: "read the bundle passphrase from the first line of `FILE`"}
}

func keyringExportCommand() *cli.Command {
	return &cli.Command{
		Name:  "export",
		Usage: "write every key, version, alias and state to a passphrase-protected bundle FILE",
		UsageText: `kmsfs keyring export [--bundle-passfile FILE] FILE

Asks for the keyring passphrase (--passfile, KMSFS_PASSPHRASE or a prompt), even
while a mount serves the keyring, and for the bundle's own passphrase
(--bundle-passfile, KMSFS_BUNDLE_PASSPHRASE or a prompt, asked twice); the two may
be equal. FILE is replaced atomically and gets mode 0600. The audit log is not
exported. Restore with kmsfs keyring import FILE.

Example: kmsfs keyring export ~/backup/keyring.kmsfskr`,
		Flags:  []cli.Flag{bundlePassfileFlag()},
		Action: exportAction,
	}
}

func keyringImportCommand() *cli.Command {
	return &cli.Command{
		Name:  "import",
		Usage: "restore keys and aliases from a bundle FILE (never replacing a different key)",
		UsageText: `kmsfs keyring import [--bundle-passfile FILE] [--replace-aliases] FILE

Adds the bundle's keys to the keyring, creating the keyring (and asking a new
passphrase) if there is none. Asks for the keyring passphrase (--passfile,
KMSFS_PASSPHRASE or a prompt) even while a mount serves the keyring, and for the
bundle's (--bundle-passfile, KMSFS_BUNDLE_PASSPHRASE or a prompt). A key that is
already here gets the versions it
lacks; a different key with the same ID, or an alias that points elsewhere here
(without --replace-aliases), makes the whole import fail with nothing changed.
Works offline and while a mount serves the keyring.

Example: kmsfs keyring import ~/backup/keyring.kmsfskr`,
		Flags: []cli.Flag{
			bundlePassfileFlag(),
			&cli.BoolFlag{Name: "replace-aliases", Usage: "repoint aliases that point to another key here"},
		},
		Action: importAction,
	}
}

func exportAction(c *cli.Context) error {
	if err := needArgs(c, 1); err != nil {
		return err
	}
	file := c.Args().First()
	keyringPass, err := passphrase(c, false)
	if err != nil {
		return err
	}
	defer clear(keyringPass)
	svc, err := dialOrOpen(c, keyringPass, false)
	if err != nil {
		return err
	}
	defer svc.Close()
	b, err := asBackupper(svc)
	if err != nil {
		return err
	}
	bundlePass, err := bundlePassphrase(c, true)
	if err != nil {
		return err
	}
	defer clear(bundlePass)
	out, err := b.ExportKeyring(localCaller(c.Context), &keyring.ExportKeyringInput{KeyringPassphrase: keyringPass, Passphrase: bundlePass, KDF: testOnlyKDF})
	if err != nil {
		return err
	}
	if err := fsutil.WriteFile(file, out.Bundle, 0o600); err != nil {
		return fmt.Errorf("writing the bundle: %w", err)
	}
	result := struct{ File, Keys, Versions, Aliases any }{file, out.Keys, out.Versions, out.Aliases}
	return printResult(c, result, fmt.Sprintf("exported %d keys (%d versions) and %d aliases to %s", out.Keys, out.Versions, out.Aliases, file))
}

func importAction(c *cli.Context) error {
	if err := needArgs(c, 1); err != nil {
		return err
	}
	bundle, err := readBundle(c.Args().First())
	if err != nil {
		return err
	}
	bundlePass, err := bundlePassphrase(c, false)
	if err != nil {
		return err
	}
	defer clear(bundlePass)
	svc, keyringPass, err := importService(c, bundle, bundlePass)
	if err != nil {
		return err
	}
	defer svc.Close()
	defer clear(keyringPass)
	b, err := asBackupper(svc)
	if err != nil {
		return err
	}
	out, err := b.ImportKeyring(localCaller(c.Context), &keyring.ImportKeyringInput{KeyringPassphrase: keyringPass,
		Bundle: bundle, Passphrase: bundlePass, ReplaceAliases: c.Bool("replace-aliases")})
	if err != nil {
		return err
	}
	return printResult(c, out, importSummary(out))
}

// importService reaches the keyring an import goes into and returns it
// with the keyring passphrase, which an import needs even through a
// mount's socket. When there is no keyring, the bundle and its passphrase
// are checked before one is created, so a mistyped passphrase leaves
// nothing behind.
func importService(c *cli.Context, bundle, bundlePass []byte) (*service, []byte, error) {
	if client, err := kmsapi.Dial(kmsapi.SocketPath(c.String("keyring"))); err == nil {
		pass, err := passphrase(c, false)
		if err != nil {
			client.Close()
			return nil, nil, err
		}
		return &service{Service: client, close: client.Close}, pass, nil
	}
	exists := keyringExists(c.String("keyring"))
	if !exists {
		if _, err := local.InspectBundle(bundle, bundlePass); err != nil {
			return nil, nil, err
		}
		fmt.Fprintf(c.App.ErrWriter, "creating keyring %s\n", c.String("keyring"))
	}
	pass, err := passphrase(c, !exists)
	if err != nil {
		return nil, nil, err
	}
	svc, err := dialOrOpen(c, pass, true)
	if err != nil {
		clear(pass)
		return nil, nil, err
	}
	return svc, pass, nil
}

// dialOrOpen reaches the keyring through a mount's socket, or opens it
// (with create, creating it) with the keyring passphrase already read.
func dialOrOpen(c *cli.Context, pass []byte, create bool) (*service, error) {
	dir := c.String("keyring")
	if client, err := kmsapi.Dial(kmsapi.SocketPath(dir)); err == nil {
		return &service{Service: client, close: client.Close}, nil
	}
	exists := keyringExists(dir)
	if !exists && !create {
		return nil, fmt.Errorf("%s: %w (run kmsfs init)", dir, keyring.ErrNotFound)
	}
	if !exists {
		if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
			return nil, err
		}
	}
	kr, err := local.Open(dir, pass, local.Options{Create: !exists, KDF: testOnlyKDF})
	if err != nil {
		return nil, fmt.Errorf("keyring %s: %w", dir, err)
	}
	return &service{Service: kr, close: kr.Close, local: kr}, nil
}

// localCaller names this process's user in the audit log of a keyring it
// opened itself; a mount's server names socket peers on its own.
func localCaller(ctx context.Context) context.Context {
	return keyring.WithCaller(ctx, "uid:"+strconv.Itoa(os.Getuid()))
}

func asBackupper(svc *service) (keyring.Backupper, error) {
	b, ok := svc.Service.(keyring.Backupper)
	if !ok {
		return nil, fmt.Errorf("%w: this keyring service cannot export or import", keyring.ErrUnsupported)
	}
	return b, nil
}

// readBundle reads a bundle file, refusing one larger than any bundle.
func readBundle(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, local.MaxBundleSize+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(b) > local.MaxBundleSize {
		return nil, fmt.Errorf("%s: %w: larger than %d bytes", name, keyring.ErrBundleCorrupt, local.MaxBundleSize)
	}
	return b, nil
}

// bundlePassphrase reads the bundle passphrase from --bundle-passfile, the
// environment or a no-echo prompt (asked twice with confirm).
func bundlePassphrase(c *cli.Context, confirm bool) ([]byte, error) {
	if f := c.String("bundle-passfile"); f != "" {
		return readPassfile(f)
	}
	if p, ok := os.LookupEnv(envBundlePassphrase); ok {
		return nonEmpty([]byte(p))
	}
	return promptBundlePassphrase(confirm)
}

var errNoBundlePassphrase = errors.New("no bundle passphrase: use a terminal, --bundle-passfile FILE or " + envBundlePassphrase)

func promptBundlePassphrase(confirm bool) ([]byte, error) {
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return nil, errNoBundlePassphrase
	}
	defer tty.Close()
	if !term.IsTerminal(int(tty.Fd())) {
		return nil, errNoBundlePassphrase
	}
	ask := func(prompt string) ([]byte, error) {
		fmt.Fprint(tty, prompt)
		p, err := term.ReadPassword(int(tty.Fd()))
		fmt.Fprintln(tty)
		return p, err
	}
	p, err := ask("Bundle passphrase: ")
	if err != nil || !confirm {
		if err != nil {
			return nil, err
		}
		return nonEmpty(p)
	}
	again, err := ask("Repeat bundle passphrase: ")
	defer clear(again)
	if err != nil || !bytes.Equal(p, again) {
		clear(p)
		return nil, errors.Join(errors.New("bundle passphrases do not match"), err)
	}
	return nonEmpty(p)
}

// importSummary says what an import did, for people.
func importSummary(o *keyring.ImportKeyringOutput) string {
	var b strings.Builder
	fmt.Fprintf(&b, "keys: %d added, %d merged, %d unchanged", len(o.KeysAdded), len(o.KeysMerged), len(o.KeysUnchanged))
	if len(o.KeysExpired) > 0 {
		fmt.Fprintf(&b, ", %d expired (past their deletion date, not imported)", len(o.KeysExpired))
	}
	fmt.Fprintf(&b, "; %d versions added\n", o.VersionsAdded)
	fmt.Fprintf(&b, "aliases: %d added, %d replaced, %d unchanged", len(o.AliasesAdded), len(o.AliasesReplaced), len(o.AliasesUnchanged))
	if len(o.AliasesSkipped) > 0 {
		fmt.Fprintf(&b, ", %d skipped (their key expired)", len(o.AliasesSkipped))
	}
	for _, l := range []struct {
		what  string
		names []string
	}{{"added key", o.KeysAdded}, {"merged key", o.KeysMerged}, {"expired key", o.KeysExpired},
		{"added alias", o.AliasesAdded}, {"replaced alias", o.AliasesReplaced}, {"skipped alias", o.AliasesSkipped}} {
		for _, n := range l.names {
			fmt.Fprintf(&b, "\n  %s %s", l.what, n)
		}
	}
	return b.String()
}
