package main

import (
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/kmsfs/kmsfs/keyring"
)

const envNewPassphrase = "KMSFS_NEW_PASSPHRASE"

func keyringCommand() *cli.Command {
	return &cli.Command{
		Name:  "keyring",
		Usage: "manage the keyring itself",
		Subcommands: []*cli.Command{
			keyringExportCommand(),
			keyringImportCommand(),
			{
				Name:  "passwd",
				Usage: "change the keyring passphrase (reseals every key; data files are untouched)",
				UsageText: `kmsfs keyring passwd [--new-passfile FILE]

The new passphrase comes from --new-passfile, KMSFS_NEW_PASSPHRASE or a prompt.
The keyring must not be in use by a mount.

Example: kmsfs keyring passwd`,
				Flags: []cli.Flag{&cli.StringFlag{Name: "new-passfile", Usage: "read the new passphrase from `FILE`"}},
				Action: func(c *cli.Context) error {
					if err := needArgs(c, 0); err != nil {
						return err
					}
					svc, err := openLocal(c, false)
					if err != nil {
						return err
					}
					defer svc.Close()
					pass, err := newPassphrase(c)
					if err != nil {
						return err
					}
					defer clear(pass)
					if err := svc.local.Passwd(pass, keyring.KDFParams{}); err != nil {
						return err
					}
					return printResult(c, nil, "passphrase changed")
				},
			},
		},
	}
}

func newPassphrase(c *cli.Context) ([]byte, error) {
	if f := c.String("new-passfile"); f != "" {
		return readPassfile(f)
	}
	if p, ok := os.LookupEnv(envNewPassphrase); ok {
		return nonEmpty([]byte(p))
	}
	fmt.Fprintln(c.App.ErrWriter, "New passphrase:")
	return promptPassphrase(true)
}
