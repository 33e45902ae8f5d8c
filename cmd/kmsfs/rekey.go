package main

import "github.com/urfave/cli/v2"

// rekeyCommand is being written; it fails until then.
func rekeyCommand() *cli.Command {
	return &cli.Command{Name: "rekey", Usage: "(not yet available)", UsageText: "Example: kmsfs rekey", Hidden: true,
		Action: func(*cli.Context) error { return cli.Exit("kmsfs rekey: not implemented yet", 1) }}
}
