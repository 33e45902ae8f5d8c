package main

import (
	"encoding/json"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/kmsfs/kmsfs/keyring"
)

// serviceAction opens the keyring service, runs f and prints its result:
// with --json the AWS KMS response shape, else f's text for people.
func serviceAction(n int, f func(c *cli.Context, svc keyring.Service) (result any, text string, err error)) cli.ActionFunc {
	return serviceActionLocal(n, func(c *cli.Context, svc *service) (any, string, error) {
		return f(c, svc)
	})
}

func printResult(c *cli.Context, result any, text string) error {
	w := c.App.Writer
	if c.Bool("json") {
		if result == nil {
			result = struct{}{}
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(result)
	}
	if text != "" {
		_, err := fmt.Fprintln(w, text)
		return err
	}
	return nil
}

func describeText(m keyring.KeyMetadata) string {
	s := fmt.Sprintf("KeyId:        %s\nArn:          %s\nState:        %s\nDescription:  %s\nCreated:      %s\nVersion:      %d",
		m.KeyId, m.Arn, m.KeyState, m.Description, m.CreationDate.Format("2006-01-02 15:04:05Z07:00"), m.CurrentKeyVersion)
	if m.MinimumDecryptionVersion > 1 {
		s += fmt.Sprintf("\nMinDecrypt:   %d", m.MinimumDecryptionVersion)
	}
	if m.DeletionDate != nil {
		s += "\nDeletionDate: " + m.DeletionDate.Format("2006-01-02 15:04:05Z07:00")
	}
	return s
}
