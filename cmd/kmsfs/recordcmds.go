package main

import (
	"cmp"
	"fmt"
	"io"
	"os"
	"os/user"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/kmsfs/kmsfs/keyring"
)

// Commands for key policies, tags, descriptions, grants and access keys.
// They reach the keyring as every key command does (a running mount's
// socket, else the keyring directory) and need the service to have the
// matching optional role.

// extendKey adds the tag, policy and description subcommands to `kmsfs key`.
func extendKey(c *cli.Command) *cli.Command {
	c.Subcommands = append(c.Subcommands, keyTagCommand(), keyUntagCommand(), keyTagsCommand(),
		keyDescriptionCommand(), keyPolicyCommand())
	return c
}

// roleOf returns the service's optional role T.
func roleOf[T any](svc *service, what string) (T, error) {
	r, ok := svc.Service.(T)
	if !ok {
		return r, fmt.Errorf("%w: this keyring service has no %s", keyring.ErrUnsupported, what)
	}
	return r, nil
}

// atLeast is serviceActionLocal for commands taking min or more arguments.
func atLeast(min int, f func(c *cli.Context, svc *service) (any, string, error)) cli.ActionFunc {
	return func(c *cli.Context) error {
		if c.NArg() < min {
			return usageError{fmt.Sprintf("%s: want at least %d argument(s), got %d (see --help)", c.Command.FullName(), min, c.NArg())}
		}
		return serviceActionLocal(c.NArg(), f)(c)
	}
}

func keyTagCommand() *cli.Command {
	return &cli.Command{
		Name:      "tag",
		Usage:     "add tags to a key (or change their values)",
		UsageText: "kmsfs key tag KEY NAME=VALUE...\n\nAt most 50 tags per key; names of 1 to 128 characters, not starting with aws:.\nExample: kmsfs key tag alias/kmsfs team=storage env=prod",
		Action: atLeast(2, func(c *cli.Context, svc *service) (any, string, error) {
			t, err := roleOf[keyring.Tagger](svc, "tags")
			if err != nil {
				return nil, "", err
			}
			var tags []keyring.Tag
			for _, a := range c.Args().Tail() {
				k, v, ok := strings.Cut(a, "=")
				if !ok {
					return nil, "", usageError{fmt.Sprintf("tag %q: want NAME=VALUE", a)}
				}
				tags = append(tags, keyring.Tag{TagKey: k, TagValue: v})
			}
			return nil, "", t.TagResource(c.Context, &keyring.TagResourceInput{KeyId: c.Args().First(), Tags: tags})
		}),
	}
}

func keyUntagCommand() *cli.Command {
	return &cli.Command{
		Name:      "untag",
		Usage:     "remove tags from a key",
		UsageText: "kmsfs key untag KEY NAME...\n\nExample: kmsfs key untag alias/kmsfs env",
		Action: atLeast(2, func(c *cli.Context, svc *service) (any, string, error) {
			t, err := roleOf[keyring.Tagger](svc, "tags")
			if err != nil {
				return nil, "", err
			}
			return nil, "", t.UntagResource(c.Context, &keyring.UntagResourceInput{KeyId: c.Args().First(), TagKeys: c.Args().Tail()})
		}),
	}
}

func keyTagsCommand() *cli.Command {
	return &cli.Command{
		Name:      "tags",
		Usage:     "list a key's tags",
		UsageText: "kmsfs key tags KEY\n\nExample: kmsfs key tags alias/kmsfs",
		Action: serviceActionLocal(1, func(c *cli.Context, svc *service) (any, string, error) {
			t, err := roleOf[keyring.Tagger](svc, "tags")
			if err != nil {
				return nil, "", err
			}
			all := keyring.ListResourceTagsOutput{Tags: []keyring.Tag{}}
			var b strings.Builder
			for marker := ""; ; {
				out, err := t.ListResourceTags(c.Context, &keyring.ListResourceTagsInput{KeyId: c.Args().First(), Marker: marker})
				if err != nil {
					return nil, "", err
				}
				for _, tag := range out.Tags {
					all.Tags = append(all.Tags, tag)
					fmt.Fprintf(&b, "%s=%s\n", tag.TagKey, tag.TagValue)
				}
				if !out.Truncated {
					break
				}
				marker = out.NextMarker
			}
			return all, strings.TrimSuffix(b.String(), "\n"), nil
		}),
	}
}

func keyDescriptionCommand() *cli.Command {
	return &cli.Command{
		Name:      "description",
		Usage:     "change a key's description",
		UsageText: "kmsfs key description KEY TEXT\n\nExample: kmsfs key description alias/kmsfs \"photos, since 2026\"",
		Action: serviceActionLocal(2, func(c *cli.Context, svc *service) (any, string, error) {
			d, err := roleOf[keyring.Describer](svc, "key descriptions")
			if err != nil {
				return nil, "", err
			}
			return nil, "", d.UpdateKeyDescription(c.Context, &keyring.UpdateKeyDescriptionInput{KeyId: c.Args().Get(0), Description: c.Args().Get(1)})
		}),
	}
}

func keyPolicyCommand() *cli.Command {
	return &cli.Command{
		Name:  "policy",
		Usage: "read or replace a key's policy (AWS key policy JSON)",
		Subcommands: []*cli.Command{
			{
				Name:      "get",
				Usage:     "print a key's policy",
				UsageText: "kmsfs key policy get KEY\n\nExample: kmsfs key policy get alias/kmsfs > policy.json",
				Action: serviceActionLocal(1, func(c *cli.Context, svc *service) (any, string, error) {
					p, err := roleOf[keyring.KeyPolicies](svc, "key policies")
					if err != nil {
						return nil, "", err
					}
					out, err := p.GetKeyPolicy(c.Context, &keyring.GetKeyPolicyInput{KeyId: c.Args().First()})
					if err != nil {
						return nil, "", err
					}
					return out, out.Policy, nil
				}),
			},
			{
				Name:  "put",
				Usage: "replace a key's policy with the JSON in FILE (or standard input)",
				UsageText: `kmsfs key policy put [--bypass-lockout-check] KEY [FILE|-]

The keyring checks only that the policy is a JSON object of at most 32 KiB;
kmsfs serve checks its grammar and that it does not lock out the caller
(unless --bypass-lockout-check).
Example: kmsfs key policy put alias/kmsfs policy.json`,
				Flags: []cli.Flag{&cli.BoolFlag{Name: "bypass-lockout-check", Usage: "skip the policy lockout safety check (BypassPolicyLockoutSafetyCheck)"}},
				Action: func(c *cli.Context) error {
					if c.NArg() < 1 || c.NArg() > 2 {
						return usageError{"kmsfs key policy put: want KEY [FILE|-] (see --help)"}
					}
					return serviceActionLocal(c.NArg(), policyPut)(c)
				},
			},
		},
	}
}

// maxPolicyFile bounds what policy put reads: AWS's policy limit is 32 KiB,
// and a larger file gets the keyring's own refusal.
const maxPolicyFile = 1 << 20

func policyPut(c *cli.Context, svc *service) (any, string, error) {
	p, err := roleOf[keyring.KeyPolicies](svc, "key policies")
	if err != nil {
		return nil, "", err
	}
	policy, err := readPolicy(c, cmp.Or(c.Args().Get(1), "-"))
	if err != nil {
		return nil, "", err
	}
	return nil, "", p.PutKeyPolicy(c.Context, &keyring.PutKeyPolicyInput{KeyId: c.Args().First(), Policy: policy,
		BypassPolicyLockoutSafetyCheck: c.Bool("bypass-lockout-check")})
}

// readPolicy reads a key policy document from the file name, or from the
// standard input for "-", at most maxPolicyFile bytes, without the
// surrounding white space an editor leaves.
func readPolicy(c *cli.Context, name string) (string, error) {
	r := c.App.Reader
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return "", err
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, maxPolicyFile))
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

func grantCommand() *cli.Command {
	return &cli.Command{
		Name:  "grant",
		Usage: "manage grants: let a principal use a key for some operations",
		Subcommands: []*cli.Command{
			{
				Name:  "create",
				Usage: "create a grant on a key",
				UsageText: `kmsfs grant create --grantee ARN --operations OP,... [--retiring ARN] [--name NAME]
	[--context-subset K=V]... [--context-equals K=V]... KEY

OP is an AWS grant operation: Decrypt, Encrypt, GenerateDataKey,
GenerateDataKeyWithoutPlaintext, ReEncryptFrom, ReEncryptTo, CreateGrant,
RetireGrant, DescribeKey, ... Prints the grant ID and grant token.
Example: kmsfs grant create --grantee arn:aws:iam::000000000000:role/backup --operations Decrypt,Encrypt alias/kmsfs`,
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "grantee", Usage: "the grantee principal `ARN`", Required: true},
					&cli.StringFlag{Name: "operations", Usage: "comma-separated grant operations", Required: true},
					&cli.StringFlag{Name: "retiring", Usage: "the retiring principal `ARN`"},
					&cli.StringFlag{Name: "name", Usage: "grant name (the same name and parameters return the same grant)"},
					&cli.StringSliceFlag{Name: "context-subset", Usage: "only requests whose encryption context contains `K=V`"},
					&cli.StringSliceFlag{Name: "context-equals", Usage: "only requests whose encryption context is exactly the `K=V` pairs"},
				},
				Action: serviceActionLocal(1, grantCreate),
			},
			{
				Name:      "list",
				Usage:     "list a key's grants",
				UsageText: "kmsfs grant list KEY\n\nExample: kmsfs grant list alias/kmsfs",
				Action:    serviceActionLocal(1, grantList),
			},
			{
				Name:      "retire",
				Usage:     "retire a grant, named by its token or by key and grant ID",
				UsageText: "kmsfs grant retire --token TOKEN | KEY GRANTID\n\nExample: kmsfs grant retire alias/kmsfs 0123...cdef",
				Flags:     []cli.Flag{&cli.StringFlag{Name: "token", Usage: "the grant `TOKEN` CreateGrant returned"}},
				Action: func(c *cli.Context) error {
					n := 2
					if c.String("token") != "" {
						n = 0
					}
					return serviceActionLocal(n, func(c *cli.Context, svc *service) (any, string, error) {
						g, err := roleOf[keyring.Granter](svc, "grants")
						if err != nil {
							return nil, "", err
						}
						return nil, "", g.RetireGrant(c.Context, &keyring.RetireGrantInput{GrantToken: c.String("token"),
							KeyId: c.Args().Get(0), GrantId: c.Args().Get(1)})
					})(c)
				},
			},
			{
				Name:      "revoke",
				Usage:     "revoke (delete) a grant",
				UsageText: "kmsfs grant revoke KEY GRANTID\n\nExample: kmsfs grant revoke alias/kmsfs 0123...cdef",
				Action: serviceActionLocal(2, func(c *cli.Context, svc *service) (any, string, error) {
					g, err := roleOf[keyring.Granter](svc, "grants")
					if err != nil {
						return nil, "", err
					}
					return nil, "", g.RevokeGrant(c.Context, &keyring.RevokeGrantInput{KeyId: c.Args().Get(0), GrantId: c.Args().Get(1)})
				}),
			},
		},
	}
}

// parsePairs turns K=V arguments into a map.
func parsePairs(flag string, pairs []string) (map[string]string, error) {
	if len(pairs) == 0 {
		return nil, nil
	}
	m := make(map[string]string, len(pairs))
	for _, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		if !ok {
			return nil, usageError{fmt.Sprintf("--%s %q: want K=V", flag, p)}
		}
		m[k] = v
	}
	return m, nil
}

func grantCreate(c *cli.Context, svc *service) (any, string, error) {
	g, err := roleOf[keyring.Granter](svc, "grants")
	if err != nil {
		return nil, "", err
	}
	subset, err := parsePairs("context-subset", c.StringSlice("context-subset"))
	if err != nil {
		return nil, "", err
	}
	equals, err := parsePairs("context-equals", c.StringSlice("context-equals"))
	if err != nil {
		return nil, "", err
	}
	in := &keyring.CreateGrantInput{KeyId: c.Args().First(), GranteePrincipal: c.String("grantee"), RetiringPrincipal: c.String("retiring"),
		Name: c.String("name"), Operations: slices.DeleteFunc(strings.Split(c.String("operations"), ","), func(s string) bool { return s == "" })}
	if subset != nil || equals != nil {
		in.Constraints = &keyring.GrantConstraints{EncryptionContextSubset: subset, EncryptionContextEquals: equals}
	}
	out, err := g.CreateGrant(c.Context, in)
	if err != nil {
		return nil, "", err
	}
	return out, fmt.Sprintf("GrantId:    %s\nGrantToken: %s", out.GrantId, out.GrantToken), nil
}

func grantList(c *cli.Context, svc *service) (any, string, error) {
	g, err := roleOf[keyring.Granter](svc, "grants")
	if err != nil {
		return nil, "", err
	}
	all := keyring.ListGrantsOutput{Grants: []keyring.Grant{}}
	var b strings.Builder
	for marker := ""; ; {
		out, err := g.ListGrants(c.Context, &keyring.ListGrantsInput{KeyId: c.Args().First(), Marker: marker})
		if err != nil {
			return nil, "", err
		}
		for _, gr := range out.Grants {
			all.Grants = append(all.Grants, gr)
			fmt.Fprintf(&b, "%s  %s  %s", gr.GrantId, gr.GranteePrincipal, strings.Join(gr.Operations, ","))
			if gr.RetiringPrincipal != "" {
				fmt.Fprintf(&b, "  retiring=%s", gr.RetiringPrincipal)
			}
			if gr.Name != "" {
				fmt.Fprintf(&b, "  name=%s", gr.Name)
			}
			b.WriteByte('\n')
		}
		if !out.Truncated {
			break
		}
		marker = out.NextMarker
	}
	return all, strings.TrimSuffix(b.String(), "\n"), nil
}

func accessKeyCommand() *cli.Command {
	status := func(name, usage, st string) *cli.Command {
		return &cli.Command{
			Name:      name,
			Usage:     usage,
			UsageText: fmt.Sprintf("kmsfs access-key %s ID\n\nExample: kmsfs access-key %s AKIAIOSFODNN7EXAMPLE", name, name),
			Action: serviceActionLocal(1, func(c *cli.Context, svc *service) (any, string, error) {
				a, err := roleOf[keyring.AccessKeys](svc, "access keys")
				if err != nil {
					return nil, "", err
				}
				return nil, "", a.UpdateAccessKey(c.Context, &keyring.UpdateAccessKeyInput{AccessKeyId: c.Args().First(), Status: st})
			}),
		}
	}
	return &cli.Command{
		Name:  "access-key",
		Usage: "manage the access keys that kmsfs serve accepts (AWS SigV4 credentials)",
		Subcommands: []*cli.Command{
			{
				Name:  "create",
				Usage: "create an access key acting as an IAM user (default: your login name) or role",
				UsageText: `kmsfs access-key create [--name NAME | --role ROLE] [--json]

The key acts as arn:aws:iam::<account>:user/NAME, or with --role as
arn:aws:iam::<account>:role/ROLE; key policies and grants decide what it may do.
The secret access key is printed once and never again.
Example: kmsfs access-key create --name backup --json > backup-key.json`,
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "name", Usage: "IAM user `NAME`"},
					&cli.StringFlag{Name: "role", Usage: "IAM role `ROLE`"},
					&cli.BoolFlag{Name: "json", Usage: `print {"AccessKey": {...}} including the secret`},
				},
				Action: serviceActionLocal(0, accessKeyCreate),
			},
			{
				Name:      "list",
				Usage:     "list access keys (never their secrets)",
				UsageText: "kmsfs access-key list\n\nExample: kmsfs access-key list",
				Action: serviceActionLocal(0, func(c *cli.Context, svc *service) (any, string, error) {
					a, err := roleOf[keyring.AccessKeys](svc, "access keys")
					if err != nil {
						return nil, "", err
					}
					out, err := a.ListAccessKeys(c.Context, &keyring.ListAccessKeysInput{})
					if err != nil {
						return nil, "", err
					}
					var b strings.Builder
					for _, k := range out.AccessKeyMetadata {
						fmt.Fprintf(&b, "%s  %-8s %s  %s\n", k.AccessKeyId, k.Status, k.Arn, k.CreateDate.Format("2006-01-02"))
					}
					return out, strings.TrimSuffix(b.String(), "\n"), nil
				}),
			},
			{
				Name:      "delete",
				Usage:     "delete an access key for good",
				UsageText: "kmsfs access-key delete ID\n\nExample: kmsfs access-key delete AKIAIOSFODNN7EXAMPLE",
				Action: serviceActionLocal(1, func(c *cli.Context, svc *service) (any, string, error) {
					a, err := roleOf[keyring.AccessKeys](svc, "access keys")
					if err != nil {
						return nil, "", err
					}
					return nil, "", a.DeleteAccessKey(c.Context, &keyring.AccessKeyIDInput{AccessKeyId: c.Args().First()})
				}),
			},
			status("disable", "make an access key Inactive: it authenticates nothing until enabled", keyring.AccessKeyInactive),
			status("enable", "make an Inactive access key Active again", keyring.AccessKeyActive),
		},
	}
}

func accessKeyCreate(c *cli.Context, svc *service) (any, string, error) {
	a, err := roleOf[keyring.AccessKeys](svc, "access keys")
	if err != nil {
		return nil, "", err
	}
	in := &keyring.CreateAccessKeyInput{Name: c.String("name"), Role: c.String("role")}
	if in.Name == "" && in.Role == "" {
		in.Name = loginName()
	}
	out, err := a.CreateAccessKey(c.Context, in)
	if err != nil {
		return nil, "", err
	}
	if !c.Bool("json") {
		fmt.Fprintln(c.App.ErrWriter, "warning: the secret access key is shown only now; store it safely")
	}
	k := out.AccessKey
	return out, fmt.Sprintf("AccessKeyId:     %s\nSecretAccessKey: %s\nPrincipal:       %s", k.AccessKeyId, k.SecretAccessKey, k.Arn), nil
}

// loginName is the user's login name, the default IAM user name.
func loginName() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return "kmsfs"
}
