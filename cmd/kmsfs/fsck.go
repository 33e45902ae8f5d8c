package main

import "github.com/urfave/cli/v2"

// fsckCommand is being written; it fails until then.
func fsckCommand() *cli.Command {
	return &cli.Command{Name: "fsck", Usage: "(not yet available)", UsageText: "Example: kmsfs fsck", Hidden: true,
		Action: func(*cli.Context) error { return cli.Exit("kmsfs fsck: not implemented yet", 1) }}
}
