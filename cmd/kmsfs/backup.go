package main

import "github.com/urfave/cli/v2"

// keyringExportCommand is being written; it fails until then.
func keyringExportCommand() *cli.Command {
	return &cli.Command{Name: "export", Usage: "(not yet available)", UsageText: "Example: kmsfs export", Hidden: true,
		Action: func(*cli.Context) error { return cli.Exit("kmsfs export: not implemented yet", 1) }}
}

// keyringImportCommand is being written; it fails until then.
func keyringImportCommand() *cli.Command {
	return &cli.Command{Name: "import", Usage: "(not yet available)", UsageText: "Example: kmsfs import", Hidden: true,
		Action: func(*cli.Context) error { return cli.Exit("kmsfs import: not implemented yet", 1) }}
}
