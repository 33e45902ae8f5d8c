package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/kmsfs/kmsfs/envelope"
	"github.com/kmsfs/kmsfs/internal/names"
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

Writes CIPHERDIR/kmsfs.conf (the key ID, the chunk size and the volume's
name key wrapped by the master key: nothing in clear) and the root's
kmsfs.diriv. File names, symlink targets and xattrs are encrypted unless
--plaintext-names is given. Without --key, uses alias/kmsfs, creating it
and the keyring if missing.

Example: kmsfs init ~/cipher`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "key", Usage: "master key (ID, ARN or alias) for this directory", Value: defaultAlias},
			&cli.IntFlag{Name: "chunk-size", Usage: "plaintext bytes per chunk, a power of two from 4096 to 1048576", Value: envelope.DefaultChunkSize},
			&cli.BoolFlag{Name: "plaintext-names", Usage: "store file names, symlink targets and xattrs unencrypted (readable by older kmsfs)"},
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
	if c.Bool("plaintext-names") {
		conf.SetPlaintextNames()
	} else if err := conf.GenerateNameKey(c.Context, keyring.NewKeyService(svc, meta.KeyId)); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if !conf.PlaintextNames {
		if err := writeRootIV(dir); err != nil {
			return err
		}
	}
	if err := conf.Create(dir); err != nil {
		return err
	}
	registerVolume(c, dir)
	return printResult(c, conf, fmt.Sprintf("initialised %s with key %s (%s)\nmount it: kmsfs mount %s MOUNTPOINT", dir, meta.KeyId, c.String("key"), dir))
}

// initKey finds the key for a new volume, creating the default one on first use.
func initKey(c *cli.Context, svc keyring.Service, key string) (keyring.KeyMetadata, error) {
	out, err := svc.DescribeKey(c.Context, &keyring.KeyIDInput{KeyId: key})
	if err == nil {
		if out.KeyMetadata.KeyState != keyring.StateEnabled {
			return keyring.KeyMetadata{}, fmt.Errorf("key %s is %s: %w", key, out.KeyMetadata.KeyState, keyring.ErrDisabled)
		}
		return out.KeyMetadata, nil
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
