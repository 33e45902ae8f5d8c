package main

import (
	"github.com/kmsfs/kmsfs/keyring"
	"github.com/urfave/cli/v2"
)

// kmsfs key replicate: AWS KMS ReplicateKey for multi-Region keys.

func keyReplicateCommand() *cli.Command {
	return &cli.Command{
		Name:  "replicate",
		Usage: "replicate a multi-Region primary key into another region (AWS KMS ReplicateKey)",
		UsageText: "kmsfs key replicate --region REGION [--description TEXT] [--policy-file FILE] KEY\n\n" +
			"The replica has the same key ID (mrk-...) and key material, so it decrypts what the primary\n" +
			"encrypted; its policy, tags, description and state are its own. Clients see it when their\n" +
			"requests are signed for REGION.\n" +
			"Example: kmsfs key replicate --region eu-west-1 mrk-1234abcd12ab34cd56ef1234567890ab",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "region", Usage: "the replica's region", Required: true},
			&cli.StringFlag{Name: "description", Usage: "the replica's description"},
			&cli.StringFlag{Name: "policy-file", Usage: "the replica's key policy, - for the standard input (default: the default policy)"},
		},
		Action: serviceActionLocal(1, keyReplicate),
	}
}

func keyReplicate(c *cli.Context, svc *service) (any, string, error) {
	r, err := roleOf[keyring.Replicator](svc, "multi-Region keys")
	if err != nil {
		return nil, "", err
	}
	in := &keyring.ReplicateKeyInput{KeyId: c.Args().First(), ReplicaRegion: c.String("region"), Description: c.String("description")}
	if f := c.String("policy-file"); f != "" {
		if in.Policy, err = readPolicy(c, f); err != nil {
			return nil, "", err
		}
	}
	out, err := r.ReplicateKey(c.Context, in)
	if err != nil {
		return nil, "", err
	}
	return out, out.ReplicaKeyMetadata.Arn, nil
}
