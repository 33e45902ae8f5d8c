package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/kmsfs/kmsfs/envelope"
	"github.com/kmsfs/kmsfs/internal/names"
	"github.com/kmsfs/kmsfs/internal/session"
	"github.com/kmsfs/kmsfs/internal/volume"
	"github.com/kmsfs/kmsfs/keyring"
)

// defaultAlias names the key that init creates when no --key is given.
const defaultAlias = "alias/kmsfs"

func initCommand() *cli.Command {
	return &cli.Command{
		Name:  "init",
		Usage: "make CIPHERDIR an encrypted directory (creating the keyring and default key if needed)",
		UsageText: `kmsfs init [--key KEY] [--chunk-size BYTES] [--plaintext-names] CIPHERDIR
   kmsfs init --kms-endpoint URL --key-id KEY [--region R] [...] CIPHERDIR
   kmsfs init --kms aws --key-id KEY [--region R] [...] CIPHERDIR

Writes CIPHERDIR/kmsfs.conf (the key ID, the chunk size and the volume's
name key wrapped by the master key: nothing in clear) and the root's
kmsfs.diriv. File names, symlink targets and xattrs are encrypted unless
--plaintext-names is given. Without --key, uses alias/kmsfs, creating it
and the keyring if missing.

With --kms-endpoint (kmsfs serve, or any AWS-KMS-compatible service) or
--kms aws (AWS KMS itself), the volume's key lives in that KMS: init checks
it with DescribeKey and a trial Encrypt and Decrypt, records the endpoint,
key ARN and region (never credentials) in kmsfs.conf, and no local keyring
is used, then or at mount. Credentials and region come from the usual AWS
environment variables, shared config and profiles.

Example: kmsfs init ~/cipher
Example: kmsfs init --kms-endpoint https://keys.example:8400 --key-id alias/team ~/cipher`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "key", Usage: "master key (ID, ARN or alias) for this directory", Value: defaultAlias},
			&cli.IntFlag{Name: "chunk-size", Usage: "plaintext bytes per chunk, a power of two from 4096 to 1048576", Value: volume.DefaultChunkSize},
			&cli.BoolFlag{Name: "plaintext-names", Usage: "store file names, symlink targets and xattrs unencrypted (readable by older kmsfs)"},
			&cli.StringFlag{Name: "kms-endpoint", Usage: "keep the volume's key in the AWS-KMS-compatible service at `URL` (kmsfs serve)"},
			&cli.StringFlag{Name: "kms", Usage: "\"aws\": keep the volume's key in AWS KMS itself"},
			&cli.StringFlag{Name: "key-id", Usage: "the remote KMS key (ID, ARN or alias) for --kms-endpoint or --kms aws"},
			&cli.StringFlag{Name: "region", Usage: "the remote KMS's region (default: the AWS configuration's)"},
		},
		Action: initAction,
	}
}

func initAction(c *cli.Context) error {
	if err := needArgs(c, 1); err != nil {
		return err
	}
	dir := c.Args().First()
	if _, err := volume.Load(dir); err == nil {
		return fmt.Errorf("%s: %w", dir, volume.ErrExists)
	}
	if remote, err := remoteInit(c); err != nil || remote {
		return err
	}
	svc, err := openService(c, true)
	if err != nil {
		return err
	}
	defer svc.Close()
	meta, err := initKey(c, svc, c.String("key"))
	if err != nil {
		return err
	}
	conf, err := volume.New(meta.KeyId, c.String("key"), c.Int("chunk-size"))
	if err != nil {
		return usageError{err.Error()}
	}
	if err := initNames(c, conf, keyring.NewKeyService(svc, meta.KeyId)); err != nil {
		return err
	}
	if err := createVolume(dir, conf); err != nil {
		return err
	}
	registerVolume(c, dir)
	return printResult(c, conf, fmt.Sprintf("initialised %s with key %s (%s)\nmount it: kmsfs mount %s MOUNTPOINT", dir, meta.KeyId, c.String("key"), dir))
}

// initNames gives a new config its name key, or plaintext names and a
// config key: either key MACs the config (FORMAT.md §15.4).
func initNames(c *cli.Context, conf *volume.Config, w envelope.KeyWrapper) error {
	if c.Bool("plaintext-names") {
		conf.SetPlaintextNames()
		return conf.GenerateConfigKey(c.Context, w)
	}
	return conf.GenerateNameKey(c.Context, w)
}

// createVolume writes a new volume's root IV (with encrypted names) and
// then its config, which makes it a volume.
func createVolume(dir string, conf *volume.Config) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if !conf.PlaintextNames {
		if err := writeRootIV(dir); err != nil {
			return err
		}
	}
	return conf.Create(dir)
}

// remoteInit initialises a volume whose key lives in a remote KMS, if the
// flags ask for one; it reports whether they did.
func remoteInit(c *cli.Context) (bool, error) {
	endpoint, kind := c.String("kms-endpoint"), c.String("kms")
	switch {
	case endpoint == "" && kind == "":
		if c.IsSet("key-id") || c.IsSet("region") {
			return true, usageError{"--key-id and --region need --kms-endpoint URL or --kms aws"}
		}
		return false, nil
	case kind != "" && kind != "aws":
		return true, usageError{fmt.Sprintf("--kms %q: the only value is \"aws\" (use --kms-endpoint for another service)", kind)}
	case kind != "" && endpoint != "":
		return true, usageError{"give --kms aws or --kms-endpoint, not both"}
	case c.String("key-id") == "":
		return true, usageError{"a remote KMS volume needs --key-id KEY"}
	case c.IsSet("key"):
		return true, usageError{"--key names a local keyring key; use --key-id for the remote KMS"}
	}
	return true, initRemote(c, c.Args().First(), endpoint)
}

// initRemote checks the remote key (DescribeKey, a trial wrap) and writes
// a version 3 config naming it.
func initRemote(c *cli.Context, dir, endpoint string) error {
	keyID := c.String("key-id")
	conf, err := volume.New(keyID, keyID, c.Int("chunk-size"))
	if err != nil {
		return usageError{err.Error()}
	}
	// Refuse an endpoint the config could not record (one carrying
	// credentials, say) before any request goes to it.
	if err := conf.SetKMS(volume.KMS{Endpoint: endpoint, KeyArn: keyID, Region: c.String("region")}); err != nil {
		return usageError{err.Error()}
	}
	ks, err := session.NewRemoteKeys(c.Context, session.RemoteConfig{Endpoint: endpoint, Region: c.String("region"), KeyID: keyID, VolumeID: conf.VolumeID})
	if err != nil {
		return err
	}
	defer ks.Close()
	info, err := ks.Check(c.Context)
	if err != nil {
		return fmt.Errorf("remote KMS key %s: %w", keyID, err)
	}
	ks.SetKey(info.ARN) // the name key and every file under the key itself, not an alias
	conf.KeyId = firstNonEmptyString(info.ID, info.ARN)
	if err := conf.SetKMS(volume.KMS{Endpoint: endpoint, KeyArn: info.ARN, Region: c.String("region")}); err != nil {
		return err
	}
	if err := initNames(c, conf, ks); err != nil {
		return err
	}
	if err := createVolume(dir, conf); err != nil {
		return err
	}
	where := endpoint
	if where == "" {
		where = "AWS KMS"
	}
	return printResult(c, conf, fmt.Sprintf("initialised %s with key %s at %s\nmount it: kmsfs mount %s MOUNTPOINT", dir, info.ARN, where, dir))
}

func firstNonEmptyString(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// initKey finds the key for a new volume, creating the default one on first use.
func initKey(c *cli.Context, svc keyring.Service, key string) (keyring.KeyMetadata, error) {
	out, err := svc.DescribeKey(c.Context, &keyring.KeyIDInput{KeyId: key})
	if err == nil {
		if out.KeyMetadata.KeyState != keyring.StateEnabled {
			return keyring.KeyMetadata{}, fmt.Errorf("key %s is %s: %w", key, out.KeyMetadata.KeyState, keyring.ErrDisabled)
		}
		return out.KeyMetadata, canWrapDataKeys(key, out.KeyMetadata)
	}
	if !errors.Is(err, keyring.ErrNotFound) || key != defaultAlias {
		return keyring.KeyMetadata{}, err
	}
	created, err := svc.CreateKey(c.Context, &keyring.CreateKeyInput{Description: "kmsfs default key"})
	if err != nil {
		return keyring.KeyMetadata{}, err
	}
	err = svc.CreateAlias(c.Context, &keyring.AliasInput{AliasName: defaultAlias, TargetKeyId: created.KeyMetadata.KeyId})
	return created.KeyMetadata, err
}

// writeRootIV gives a new volume's root directory its IV file
// (docs/NAMES.md §3), before the config that makes it a volume. One left
// by an init that failed after writing it is kept: nothing is named under
// it yet.
func writeRootIV(dir string) error {
	iv, err := names.NewDirIV()
	if err != nil {
		return err
	}
	err = names.WriteDirIV(dir, iv)
	if errors.Is(err, names.ErrDirIVExists) {
		_, err = names.ReadDirIV(dir)
	}
	return err
}
