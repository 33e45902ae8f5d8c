package main

import (
	"cmp"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/urfave/cli/v2"

	"github.com/kmsfs/kmsfs/envelope"
	"github.com/kmsfs/kmsfs/internal/maintain"
	"github.com/kmsfs/kmsfs/internal/names"
	"github.com/kmsfs/kmsfs/internal/session"
	"github.com/kmsfs/kmsfs/internal/volume"
	"github.com/kmsfs/kmsfs/keyring"
	"github.com/kmsfs/kmsfs/keyring/kmsclient"
)

func rewrapCommand() *cli.Command {
	return &cli.Command{
		Name:  "rewrap",
		Usage: "rewrap every file header of CIPHERDIR under the newest version of its key (or another key)",
		UsageText: `kmsfs rewrap [--key KEY] [--jobs N] CIPHERDIR

After a key rotation, rewrites the header of every file whose data key is
wrapped under an older version, touching only headers (crash-safe: a new header
slot, then fsync). Files already current are counted and left alone, so a run
that was interrupted (even by kill -9) is finished by running it again.
With --key, moves the tree to KEY and, once every file succeeded, records KEY
in kmsfs.conf. While CIPHERDIR is mounted, the work goes through the mount.
Exits non-zero if any file failed, listing them.

Example: kmsfs key rotate alias/kmsfs && kmsfs rewrap ~/cipher`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "key", Usage: "move the tree to `KEY` (ID, ARN or alias); default: the volume's key"},
			rewrapJobsFlag(),
		},
		Action: rewrapAction,
	}
}

// rewrapReport is the --json output of kmsfs rewrap.
type rewrapReport struct {
	CipherDir      string
	KeyId          string
	KeyVersion     uint32
	Online         bool // through the mount
	Scanned        int64
	Rewrapped      int64
	Current        int64
	Skipped        int64 // kmsfs metadata, strays, symlinks, special files
	Failed         int64
	Failures       []failureJSON
	ElapsedSeconds float64
	ConfigUpdated  bool `json:",omitempty"` // --key: kmsfs.conf now names the key
	// NameKeyRewrapped: the volume's name key (encrypted names) in
	// kmsfs.conf was rewrapped too.
	NameKeyRewrapped bool `json:",omitempty"`
}

func rewrapAction(c *cli.Context) error {
	if err := needArgs(c, 1); err != nil {
		return err
	}
	if conf, err := volume.Load(c.Args().First()); err == nil && conf.IsKMS() {
		return rewrapRemote(c, c.Args().First(), conf)
	}
	dir, conf, svc, err := openVolume(c)
	if err != nil {
		return err
	}
	defer svc.Close()
	keyArg := c.String("key")
	if keyArg == "" {
		keyArg = conf.KeyId
	}
	meta, target, err := rewrapTarget(c, svc, keyArg)
	if err != nil {
		return err
	}
	moving := meta.KeyId != conf.KeyId
	r, ctl, closeR, err := openRewrapper(c, dir, svc)
	if err != nil {
		return err
	}
	defer closeR()
	if moving && ctl != nil {
		if err := ctl.SetVolumeKey(c.Context, meta.KeyId); err != nil {
			return fmt.Errorf("switching the mount to key %s: %w", meta.KeyId, err)
		}
	}
	registerVolume(c, dir)
	ks := keyring.NewKeyService(svc, meta.KeyId)
	nameKey, nameKeyErr := conf.RewrapNameKey(c.Context, ks, ks)
	s, err := runRewrap(c, dir, conf, svc, r, target, ctl != nil)
	if err != nil {
		return err
	}
	if nameKeyErr != nil { // one more failure: the files' rewrap still counts
		s.Failed++
		s.Failures = append([]maintain.Failure{{Path: volume.ConfigName + " (name key)", Err: nameKeyErr}}, s.Failures...)
	}
	rep := rewrapReport{CipherDir: dir, KeyId: meta.KeyId, KeyVersion: target.Version, Online: ctl != nil,
		Scanned: s.Scanned - s.Skipped, Rewrapped: s.Changed, Current: s.Current, Skipped: s.Skipped,
		Failed: s.Failed, Failures: failuresJSON(s), ElapsedSeconds: s.Elapsed.Seconds(), NameKeyRewrapped: nameKey}
	if moving && s.Failed == 0 {
		if err := moveConfig(conf, dir, meta.KeyId, c.String("key")); err != nil {
			return err
		}
		rep.ConfigUpdated = true
	}
	if err := printResult(c, rep, rewrapText(rep, s)); err != nil {
		return err
	}
	return s.Err()
}

// rewrapTarget resolves KEY and returns its metadata and newest version.
func rewrapTarget(c *cli.Context, svc keyring.Service, key string) (keyring.KeyMetadata, envelope.KeyRef, error) {
	out, err := svc.DescribeKey(c.Context, &keyring.KeyIDInput{KeyId: key})
	if err != nil {
		return keyring.KeyMetadata{}, envelope.KeyRef{}, err
	}
	m := out.KeyMetadata
	if m.KeyState != keyring.StateEnabled {
		return m, envelope.KeyRef{}, fmt.Errorf("key %s is %s: %w", key, m.KeyState, keyring.ErrDisabled)
	}
	id, err := uuid.Parse(m.KeyId)
	if err != nil || m.CurrentKeyVersion == 0 {
		return m, envelope.KeyRef{}, fmt.Errorf("%w: key %q has no usable version", keyring.ErrInternal, m.KeyId)
	}
	return m, envelope.KeyRef{KeyID: id, Version: m.CurrentKeyVersion}, nil
}

// openRewrapper returns the mount's control client when dir is mounted,
// else a local rewrapper; ctl is nil offline.
func openRewrapper(c *cli.Context, dir string, svc *service) (r maintain.Rewrapper, ctl *session.ControlClient, closeR func(), err error) {
	ctl, err = dialMount(c, dir)
	if err != nil {
		return nil, nil, nil, err
	}
	if ctl != nil {
		return ctl, ctl, func() { ctl.Close() }, nil
	}
	local, err := maintain.NewLocal(dir, session.KeysFor(svc), maintain.LocalOptions{})
	if err != nil {
		return nil, nil, nil, err
	}
	return local, nil, func() { local.Close() }, nil
}

// runRewrap rewraps the tree with progress on stderr. Online, the mount
// rewraps open files through their shared state; a file it answers busy
// for (only while the mount is starting) is retried for up to 15 s.
func runRewrap(c *cli.Context, dir string, conf *volume.Config, svc keyring.Service, r maintain.Rewrapper, target envelope.KeyRef, online bool) (*maintain.Summary, error) {
	namer, closeNamer := namerFor(c.Context, dir, conf, svc)
	defer closeNamer()
	opts := maintain.Options{Jobs: rewrapJobs(c, online), Progress: newProgress(c, "rewrap"), Names: namer}
	if online {
		opts.Retryable = func(err error) bool { return errors.Is(err, maintain.ErrBusy) }
	}
	return maintain.Run(c.Context, dir, maintain.RewrapTask(r, target), opts)
}

// moveConfig records the tree's new key in kmsfs.conf (atomically).
func moveConfig(conf *volume.Config, dir, keyID, keyArg string) error {
	conf.KeyId, conf.KeyAlias = keyID, ""
	if strings.HasPrefix(keyArg, "alias/") {
		conf.KeyAlias = keyArg
	}
	if err := conf.Save(dir); err != nil {
		return fmt.Errorf("all files moved to key %s, but updating %s failed (run kmsfs rewrap --key again): %w", keyID, volume.ConfigName, err)
	}
	return nil
}

func rewrapText(rep rewrapReport, s *maintain.Summary) string {
	var b strings.Builder
	mode := "offline"
	if rep.Online {
		mode = "through the mount"
	}
	fmt.Fprintf(&b, "rewrap %s to key %s version %d (%s)\n", rep.CipherDir, rep.KeyId, rep.KeyVersion, mode)
	fmt.Fprintf(&b, "scanned %s in %s: %d rewrapped, %d already current, %d failed",
		plural(rep.Scanned, "file"), s.Elapsed.Round(time.Millisecond), rep.Rewrapped, rep.Current, rep.Failed)
	if rep.Failed > 0 {
		b.WriteString("\nfailed:\n")
		writeFailures(&b, s, maintain.MaxListedFailures)
		b.WriteString("run kmsfs rewrap again once the cause is fixed; files already done are skipped")
	}
	if rep.NameKeyRewrapped {
		fmt.Fprintf(&b, "\nthe name key in %s was rewrapped too", volume.ConfigName)
	}
	if rep.ConfigUpdated {
		fmt.Fprintf(&b, "\n%s now names key %s", volume.ConfigName, rep.KeyId)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// rewrapRemote rewraps a volume whose key lives in a remote KMS, offline:
// each header's KMS blob is re-encrypted (ReEncrypt) under the target key,
// so the data keys never leave the KMS in clear on their way. A KMS keeps
// its key's old material usable, so only --key (moving the tree to another
// key) changes anything; files already under the target are counted as
// current.
func rewrapRemote(c *cli.Context, dir string, conf *volume.Config) error {
	vk, err := openRemoteVolumeKeys(c, dir, conf)
	if err != nil {
		return err
	}
	defer vk.close()
	if vk.mounted {
		return fmt.Errorf("%s: %w (online rewrap of a remote-KMS volume is not supported)", dir, volume.ErrInUse)
	}
	ks := vk.remote
	keyArg := cmp.Or(c.String("key"), conf.KMS.KeyArn)
	to := ks.ForKey(keyArg)
	info, err := to.Describe(c.Context)
	if err != nil {
		return fmt.Errorf("key %s: %w", keyArg, err)
	}
	target := kmsclient.RefOf(info.ARN)
	local, err := maintain.NewLocal(dir, session.RemoteKeysFor(ks), maintain.LocalOptions{})
	if err != nil {
		return err
	}
	defer local.Close()
	nameKey, nameKeyErr := conf.RewrapNameKey(c.Context, ks, to)
	s, err := runRemoteRewrap(c, dir, conf, ks, local, target)
	if err != nil {
		return err
	}
	if nameKeyErr != nil {
		s.Failed++
		s.Failures = append([]maintain.Failure{{Path: volume.ConfigName + " (name key)", Err: nameKeyErr}}, s.Failures...)
	}
	rep := rewrapReport{CipherDir: dir, KeyId: info.ARN, Scanned: s.Scanned - s.Skipped, Rewrapped: s.Changed,
		Current: s.Current, Skipped: s.Skipped, Failed: s.Failed, Failures: failuresJSON(s),
		ElapsedSeconds: s.Elapsed.Seconds(), NameKeyRewrapped: nameKey}
	if info.ARN != conf.KMS.KeyArn && s.Failed == 0 {
		conf.KMS.KeyArn = info.ARN
		conf.KeyId, conf.KeyAlias = firstNonEmptyString(info.ID, info.ARN), ""
		if err := conf.Save(dir); err != nil {
			return fmt.Errorf("all files moved to key %s, but updating %s failed (run kmsfs rewrap --key again): %w", info.ARN, volume.ConfigName, err)
		}
		rep.ConfigUpdated = true
	}
	if err := printResult(c, rep, rewrapText(rep, s)); err != nil {
		return err
	}
	return s.Err()
}

// runRemoteRewrap is runRewrap for a remote-KMS volume.
func runRemoteRewrap(c *cli.Context, dir string, conf *volume.Config, ks envelope.KeyService, r maintain.Rewrapper, target envelope.KeyRef) (*maintain.Summary, error) {
	namer := maintain.Namer(maintain.PlainNames{})
	if codec, err := nameCodec(c.Context, conf, ks); err == nil && codec != nil {
		defer codec.Close()
		namer = names.NewTree(codec, dir)
	}
	opts := maintain.Options{Jobs: rewrapJobs(c, false), Progress: newProgress(c, "rewrap"), Names: namer}
	return maintain.Run(c.Context, dir, maintain.RewrapTask(r, target), opts)
}
