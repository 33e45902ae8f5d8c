package main

import "github.com/urfave/cli/v2"

// auditCommand is being written; it fails until then.
func auditCommand() *cli.Command {
	return &cli.Command{Name: "audit", Usage: "(not yet available)", UsageText: "Example: kmsfs audit", Hidden: true,
		Action: func(*cli.Context) error { return cli.Exit("kmsfs audit: not implemented yet", 1) }}
}
