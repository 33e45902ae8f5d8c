package main

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/kmsfs/kmsfs/keyring"
)

func keyCommand() *cli.Command {
	return &cli.Command{
		Name:  "key",
		Usage: "manage master keys (as AWS KMS keys)",
		Subcommands: []*cli.Command{
			{
				Name:  "create",
				Usage: "create a master key",
				UsageText: "kmsfs key create [--description TEXT] [--alias alias/NAME] [--key-spec SPEC --key-usage USAGE] [--origin EXTERNAL] [--multi-region]\n\n" +
					"SPEC is an AWS KeySpec (SYMMETRIC_DEFAULT, RSA_2048, ECC_NIST_P256, HMAC_256, ...), USAGE an AWS KeyUsage\n" +
					"(ENCRYPT_DECRYPT, SIGN_VERIFY, GENERATE_VERIFY_MAC, KEY_AGREEMENT). Only SYMMETRIC_DEFAULT\n" +
					"ENCRYPT_DECRYPT keys can protect a volume.\n" +
					"Example: kmsfs key create --description backups --alias alias/backups\n" +
					"Example: kmsfs key create --key-spec ECC_NIST_P256 --key-usage SIGN_VERIFY --alias alias/signing\n" +
					"Example: kmsfs key create --multi-region --description shared   (key ID mrk-...; see kmsfs key replicate)",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "description", Usage: "free text"},
					&cli.StringFlag{Name: "alias", Usage: "also create `alias/NAME` for the key"},
					&cli.StringFlag{Name: "key-spec", Usage: "AWS KeySpec (default SYMMETRIC_DEFAULT)"},
					&cli.StringFlag{Name: "key-usage", Usage: "AWS KeyUsage (default ENCRYPT_DECRYPT)"},
					&cli.StringFlag{Name: "origin", Usage: "EXTERNAL: key material to import with kmsfs key import"},
					&cli.BoolFlag{Name: "multi-region", Usage: "a multi-Region primary key"},
				},
				Action: serviceAction(0, keyCreate),
			},
			{
				Name:      "list",
				Usage:     "list master keys",
				UsageText: "kmsfs key list [--json]\n\nExample: kmsfs key list",
				Action:    serviceAction(0, keyList),
			},
			keyIDCommand("describe", "show a key's metadata", func(c *cli.Context, svc keyring.Service, id string) (any, string, error) {
				out, err := svc.DescribeKey(c.Context, &keyring.KeyIDInput{KeyId: id})
				if err != nil {
					return nil, "", err
				}
				return out, describeText(out.KeyMetadata), nil
			}),
			keyIDCommand("enable", "enable a disabled key", func(c *cli.Context, svc keyring.Service, id string) (any, string, error) {
				return nil, "", svc.EnableKey(c.Context, &keyring.KeyIDInput{KeyId: id})
			}),
			keyIDCommand("disable", "disable a key: every cryptographic use fails until enabled", func(c *cli.Context, svc keyring.Service, id string) (any, string, error) {
				return nil, "", svc.DisableKey(c.Context, &keyring.KeyIDInput{KeyId: id})
			}),
			keyIDCommand("rotate", "create a new key version now; old versions still decrypt", func(c *cli.Context, svc keyring.Service, id string) (any, string, error) {
				out, err := svc.RotateKeyOnDemand(c.Context, &keyring.KeyIDInput{KeyId: id})
				if err != nil {
					return nil, "", err
				}
				return out, fmt.Sprintf("%s: now at version %d (run kmsfs rewrap to move file headers)", out.KeyId, out.KeyVersion), nil
			}),
			keyIDCommand("rotations", "list a key's rotations (versions after the first)", keyRotations),
			rotationCommand(),
			destroyVersionsCommand(),
			minVersionCommand(),
			{
				Name:      "schedule-deletion",
				Usage:     "schedule a key's deletion after a waiting period",
				UsageText: "kmsfs key schedule-deletion [--days N] KEY\n\nExample: kmsfs key schedule-deletion --days 7 alias/old",
				Flags:     []cli.Flag{&cli.IntFlag{Name: "days", Usage: "waiting period, 7 to 30 days", Value: 30}},
				Action: serviceAction(1, func(c *cli.Context, svc keyring.Service) (any, string, error) {
					out, err := svc.ScheduleKeyDeletion(c.Context, &keyring.ScheduleKeyDeletionInput{KeyId: c.Args().First(), PendingWindowInDays: c.Int("days")})
					if err != nil {
						return nil, "", err
					}
					return out, fmt.Sprintf("%s: %s, deletion on %s", out.KeyId, out.KeyState, out.DeletionDate.Format("2006-01-02 15:04:05Z07:00")), nil
				}),
			},
			keyIDCommand("cancel-deletion", "cancel a scheduled deletion; the key becomes Disabled", func(c *cli.Context, svc keyring.Service, id string) (any, string, error) {
				out, err := svc.CancelKeyDeletion(c.Context, &keyring.KeyIDInput{KeyId: id})
				if err != nil {
					return nil, "", err
				}
				return out, out.KeyId + ": deletion cancelled, key is Disabled (kmsfs key enable to use it)", nil
			}),
		},
	}
}

// keyIDCommand builds a subcommand taking one KEY argument.
func keyIDCommand(name, usage string, f func(c *cli.Context, svc keyring.Service, id string) (any, string, error)) *cli.Command {
	return &cli.Command{
		Name:      name,
		Usage:     usage,
		UsageText: fmt.Sprintf("kmsfs key %s KEY\n\nKEY is a key ID, key ARN, alias/NAME or alias ARN.\nExample: kmsfs key %s alias/kmsfs", name, name),
		Action: serviceAction(1, func(c *cli.Context, svc keyring.Service) (any, string, error) {
			return f(c, svc, c.Args().First())
		}),
	}
}

func keyCreate(c *cli.Context, svc keyring.Service) (any, string, error) {
	alias := c.String("alias")
	if alias != "" && !strings.HasPrefix(alias, "alias/") {
		alias = "alias/" + alias
	}
	out, err := svc.CreateKey(c.Context, &keyring.CreateKeyInput{Description: c.String("description"),
		KeySpec: c.String("key-spec"), KeyUsage: c.String("key-usage"), Origin: c.String("origin"), MultiRegion: c.Bool("multi-region")})
	if err != nil {
		return nil, "", err
	}
	text := out.KeyMetadata.KeyId
	if alias != "" {
		if err := svc.CreateAlias(c.Context, &keyring.AliasInput{AliasName: alias, TargetKeyId: out.KeyMetadata.KeyId}); err != nil {
			return nil, "", fmt.Errorf("key %s created, but alias: %w", out.KeyMetadata.KeyId, err)
		}
		text += " " + alias
	}
	return out, text, nil
}

func keyList(c *cli.Context, svc keyring.Service) (any, string, error) {
	var all keyring.ListKeysOutput
	var b strings.Builder
	aliases, err := allAliases(c, svc, "")
	if err != nil {
		return nil, "", err
	}
	for marker := ""; ; {
		out, err := svc.ListKeys(c.Context, &keyring.ListInput{Marker: marker})
		if err != nil {
			return nil, "", err
		}
		for _, k := range out.Keys {
			all.Keys = append(all.Keys, k)
			d, err := svc.DescribeKey(c.Context, &keyring.KeyIDInput{KeyId: k.KeyId})
			if err != nil {
				return nil, "", err
			}
			fmt.Fprintf(&b, "%s  %-15s v%-3d %s  %s\n", k.KeyId, d.KeyMetadata.KeyState, d.KeyMetadata.CurrentKeyVersion,
				strings.Join(aliases[k.KeyId], ","), d.KeyMetadata.Description)
		}
		if !out.Truncated {
			break
		}
		marker = out.NextMarker
	}
	return all, strings.TrimSuffix(b.String(), "\n"), nil
}

func keyRotations(c *cli.Context, svc keyring.Service, id string) (any, string, error) {
	var all keyring.ListKeyRotationsOutput
	var b strings.Builder
	for marker := ""; ; {
		out, err := svc.ListKeyRotations(c.Context, &keyring.ListKeyRotationsInput{KeyId: id, Marker: marker})
		if err != nil {
			return nil, "", err
		}
		for _, r := range out.Rotations {
			all.Rotations = append(all.Rotations, r)
			fmt.Fprintf(&b, "v%d  %s  %s\n", r.KeyVersion, r.RotationDate.Format("2006-01-02 15:04:05Z07:00"), r.RotationType)
		}
		if !out.Truncated {
			break
		}
		marker = out.NextMarker
	}
	return all, strings.TrimSuffix(b.String(), "\n"), nil
}

func rotationCommand() *cli.Command {
	return &cli.Command{
		Name:  "rotation",
		Usage: "automatic rotation: enable, disable, status",
		Subcommands: []*cli.Command{
			{
				Name:      "enable",
				Usage:     "rotate the key automatically every period",
				UsageText: "kmsfs key rotation enable [--period-days N] KEY\n\nExample: kmsfs key rotation enable --period-days 90 alias/kmsfs",
				Flags:     []cli.Flag{&cli.IntFlag{Name: "period-days", Usage: "90 to 2560", Value: 365}},
				Action: serviceAction(1, func(c *cli.Context, svc keyring.Service) (any, string, error) {
					return nil, "", svc.EnableKeyRotation(c.Context, &keyring.EnableKeyRotationInput{KeyId: c.Args().First(), RotationPeriodInDays: c.Int("period-days")})
				}),
			},
			{
				Name:      "disable",
				Usage:     "stop automatic rotation",
				UsageText: "kmsfs key rotation disable KEY\n\nExample: kmsfs key rotation disable alias/kmsfs",
				Action: serviceAction(1, func(c *cli.Context, svc keyring.Service) (any, string, error) {
					return nil, "", svc.DisableKeyRotation(c.Context, &keyring.KeyIDInput{KeyId: c.Args().First()})
				}),
			},
			{
				Name:      "status",
				Usage:     "show whether and when the key rotates",
				UsageText: "kmsfs key rotation status KEY\n\nExample: kmsfs key rotation status alias/kmsfs",
				Action: serviceAction(1, func(c *cli.Context, svc keyring.Service) (any, string, error) {
					out, err := svc.GetKeyRotationStatus(c.Context, &keyring.KeyIDInput{KeyId: c.Args().First()})
					if err != nil {
						return nil, "", err
					}
					text := "automatic rotation: disabled"
					if out.KeyRotationEnabled {
						text = fmt.Sprintf("automatic rotation: every %d days", out.RotationPeriodInDays)
						if out.NextRotationDate != nil {
							text += ", next on " + out.NextRotationDate.Format("2006-01-02")
						}
					}
					return out, text, nil
				}),
			},
		},
	}
}

func aliasCommand() *cli.Command {
	set := func(name, usage string, op func(svc keyring.Service) func(*cli.Context, *keyring.AliasInput) error) *cli.Command {
		return &cli.Command{
			Name:      name,
			Usage:     usage,
			UsageText: fmt.Sprintf("kmsfs alias %s alias/NAME KEY\n\nExample: kmsfs alias %s alias/photos alias/kmsfs", name, name),
			Action: serviceAction(2, func(c *cli.Context, svc keyring.Service) (any, string, error) {
				// AWS wants a key ID here; accept any key form for people.
				target, err := svc.DescribeKey(c.Context, &keyring.KeyIDInput{KeyId: c.Args().Get(1)})
				if err != nil {
					return nil, "", err
				}
				in := &keyring.AliasInput{AliasName: c.Args().Get(0), TargetKeyId: target.KeyMetadata.KeyId}
				return nil, "", op(svc)(c, in)
			}),
		}
	}
	return &cli.Command{
		Name:  "alias",
		Usage: "manage aliases (alias/NAME) that point at keys",
		Subcommands: []*cli.Command{
			set("create", "create an alias for a key", func(svc keyring.Service) func(*cli.Context, *keyring.AliasInput) error {
				return func(c *cli.Context, in *keyring.AliasInput) error { return svc.CreateAlias(c.Context, in) }
			}),
			set("update", "point an existing alias at another key", func(svc keyring.Service) func(*cli.Context, *keyring.AliasInput) error {
				return func(c *cli.Context, in *keyring.AliasInput) error { return svc.UpdateAlias(c.Context, in) }
			}),
			{
				Name:      "delete",
				Usage:     "delete an alias (not its key)",
				UsageText: "kmsfs alias delete alias/NAME\n\nExample: kmsfs alias delete alias/photos",
				Action: serviceAction(1, func(c *cli.Context, svc keyring.Service) (any, string, error) {
					return nil, "", svc.DeleteAlias(c.Context, &keyring.AliasInput{AliasName: c.Args().First()})
				}),
			},
			{
				Name:      "list",
				Usage:     "list aliases",
				UsageText: "kmsfs alias list [--key KEY]\n\nExample: kmsfs alias list --key alias/kmsfs",
				Flags:     []cli.Flag{&cli.StringFlag{Name: "key", Usage: "only aliases of `KEY`"}},
				Action: serviceAction(0, func(c *cli.Context, svc keyring.Service) (any, string, error) {
					entries, err := listAliases(c, svc, c.String("key"))
					if err != nil {
						return nil, "", err
					}
					var b strings.Builder
					for _, a := range entries {
						fmt.Fprintf(&b, "%s  %s\n", a.AliasName, a.TargetKeyId)
					}
					return keyring.ListAliasesOutput{Aliases: entries}, strings.TrimSuffix(b.String(), "\n"), nil
				}),
			},
		},
	}
}

// allAliases maps key IDs to their alias names.
func allAliases(c *cli.Context, svc keyring.Service, keyID string) (map[string][]string, error) {
	entries, err := listAliases(c, svc, keyID)
	if err != nil {
		return nil, err
	}
	m := map[string][]string{}
	for _, a := range entries {
		m[a.TargetKeyId] = append(m[a.TargetKeyId], a.AliasName)
	}
	return m, nil
}

// listAliases reads every page of ListAliases.
func listAliases(c *cli.Context, svc keyring.Service, keyID string) ([]keyring.AliasListEntry, error) {
	var all []keyring.AliasListEntry
	for marker := ""; ; {
		out, err := svc.ListAliases(c.Context, &keyring.ListAliasesInput{KeyId: keyID, Marker: marker})
		if err != nil {
			return nil, err
		}
		all = append(all, out.Aliases...)
		if !out.Truncated {
			return all, nil
		}
		marker = out.NextMarker
	}
}
