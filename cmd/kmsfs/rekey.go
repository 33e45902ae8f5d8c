package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/kmsfs/kmsfs/internal/maintain"
	"github.com/kmsfs/kmsfs/internal/session"
	"github.com/kmsfs/kmsfs/internal/volume"
	"github.com/kmsfs/kmsfs/keyring"
)

var errNotInVolume = errors.New("not inside a kmsfs mount or a kmsfs CIPHERDIR")

func rekeyCommand() *cli.Command {
	return &cli.Command{
		Name:  "rekey",
		Usage: "re-encrypt files under fresh data keys (for a data key believed exposed)",
		UsageText: `kmsfs rekey PATH...

Each file gets a new random data key and file ID, and every chunk is encrypted
again. The new file is written beside the old one, synced, given the old one's
mode, owner, times and extended attributes, and renamed over it, so a crash
leaves the old or the new file (and at worst a stray temporary file, which
kmsfs fsck reports). Files with several hard links are refused.

PATH is either a plaintext path inside a mounted MOUNTPOINT (the copy goes
through the mount) or a ciphertext path inside a CIPHERDIR that is not mounted.

Example: kmsfs rekey ~/plain/secrets.txt`,
		Action: rekeyAction,
	}
}

func rekeyAction(c *cli.Context) error {
	if c.NArg() == 0 {
		return usageError{"kmsfs rekey: want at least one PATH (see --help)"}
	}
	mounts, err := session.Mounts()
	if err != nil {
		return err
	}
	rk := &rekeyer{c: c, mounts: mounts}
	defer rk.close()
	var first error
	for _, p := range c.Args().Slice() {
		mode, err := rk.rekey(p)
		if err != nil {
			fmt.Fprintf(c.App.ErrWriter, "kmsfs rekey: %s: %s\n", p, oneLine(err))
			if first == nil {
				first = err
			}
			continue
		}
		fmt.Fprintf(c.App.Writer, "rekeyed %s (%s)\n", p, mode)
	}
	if first != nil {
		return reportedError{first}
	}
	return nil
}

// rekeyer re-keys paths, opening the keyring once, only if an offline
// path needs it.
type rekeyer struct {
	c      *cli.Context
	mounts []session.MountInfo
	svc    *service
}

func (r *rekeyer) close() {
	if r.svc != nil {
		r.svc.Close()
	}
}

// rekey re-keys one path and says which mode it used.
func (r *rekeyer) rekey(p string) (string, error) {
	abs, err := realPath(p)
	if err != nil {
		return "", err
	}
	if m, ok := session.MountOf(r.mounts, abs); ok && m.FSType == session.KmsfsFSType {
		return "through the mount", maintain.RekeyPlainFile(r.c.Context, abs)
	}
	dir, conf, rel, err := findVolume(abs)
	if err != nil {
		return "", err
	}
	if k := maintain.Classify(rel, 0); k != maintain.KindFile {
		return "", fmt.Errorf("%s: %s, not a file of the volume", rel, k)
	}
	if err := r.checkUnmounted(dir); err != nil {
		return "", err
	}
	if r.svc == nil {
		if r.svc, err = openService(r.c, false); err != nil {
			return "", err
		}
	}
	ks := keyring.NewKeyService(r.svc, conf.KeyId)
	return "offline", maintain.RekeyCipherFile(r.c.Context, abs, ks, conf.ChunkSize)
}

// checkUnmounted refuses a ciphertext path of a mounted tree: the mount
// must make the new file itself (rekey its plaintext path instead).
func (r *rekeyer) checkUnmounted(dir string) error {
	ctl, err := dialMount(r.c, dir)
	if ctl != nil {
		ctl.Close()
		return fmt.Errorf("%s is mounted: rekey the file's plaintext path inside its mountpoint", dir)
	}
	return err
}

// realPath returns p absolute with its directory's symlinks resolved (the
// file itself may be a symlink, which rekey then refuses).
func realPath(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	dir, err := filepath.EvalSymlinks(filepath.Dir(abs))
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, filepath.Base(abs)), nil
}

// findVolume finds the CIPHERDIR holding the file at abs: the nearest
// parent directory with a kmsfs.conf. rel is the file's cipher path.
func findVolume(abs string) (dir string, conf *volume.Config, rel string, err error) {
	for d := filepath.Dir(abs); ; d = filepath.Dir(d) {
		if _, err := os.Lstat(filepath.Join(d, volume.ConfigName)); err == nil {
			conf, err := volume.Load(d)
			if err != nil {
				return "", nil, "", err
			}
			rel, err := filepath.Rel(d, abs)
			return d, conf, filepath.ToSlash(rel), err
		}
		if d == filepath.Dir(d) {
			return "", nil, "", fmt.Errorf("%s: %w", abs, errNotInVolume)
		}
	}
}
