package main

import "github.com/urfave/cli/v2"

// rewrapCommand is being written; it fails until then.
func rewrapCommand() *cli.Command {
	return &cli.Command{Name: "rewrap", Usage: "(not yet available)", UsageText: "Example: kmsfs rewrap", Hidden: true,
		Action: func(*cli.Context) error { return cli.Exit("kmsfs rewrap: not implemented yet", 1) }}
}
