package main

import "github.com/urfave/cli/v2"

// destroyVersionsCommand is being written; it fails until then.
func destroyVersionsCommand() *cli.Command {
	return &cli.Command{Name: "destroy-versions", Usage: "(not yet available)", UsageText: "Example: kmsfs destroy-versions", Hidden: true,
		Action: func(*cli.Context) error { return cli.Exit("kmsfs destroy-versions: not implemented yet", 1) }}
}

// minVersionCommand is being written; it fails until then.
func minVersionCommand() *cli.Command {
	return &cli.Command{Name: "min-version", Usage: "(not yet available)", UsageText: "Example: kmsfs min-version", Hidden: true,
		Action: func(*cli.Context) error { return cli.Exit("kmsfs min-version: not implemented yet", 1) }}
}
