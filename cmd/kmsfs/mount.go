package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/kmsfs/kmsfs/envelope"
	kfs "github.com/kmsfs/kmsfs/fs"
	"github.com/kmsfs/kmsfs/internal/memlimit"
	"github.com/kmsfs/kmsfs/internal/names"
	"github.com/kmsfs/kmsfs/internal/procs"
	"github.com/kmsfs/kmsfs/internal/session"
	"github.com/kmsfs/kmsfs/internal/volume"
	"github.com/kmsfs/kmsfs/keyring/kmsapi"
	"github.com/kmsfs/kmsfs/keyring/local"
)

// envReadyFD names the file descriptor on which a background serving
// process reports "ok" or its error to the command that started it.
const envReadyFD = "KMSFS_READY_FD"

var (
	errMountpointBusy = errors.New("mountpoint is not an empty directory")
	errMountFailed    = errors.New("mount failed")
)

func mountCommand() *cli.Command {
	return &cli.Command{
		Name:  "mount",
		Usage: "present CIPHERDIR decrypted at MOUNTPOINT",
		UsageText: `kmsfs mount [-f] [--ro] [--allow-other] [--log FILE] CIPHERDIR MOUNTPOINT

Returns once the mount is ready; the serving process stays in the background
(or in the foreground with -f) and owns the keyring: while it runs, kmsfs key
and alias commands reach the keyring through its socket.
Unmount with: kmsfs umount MOUNTPOINT (or fusermount3 -u MOUNTPOINT).

Example: kmsfs mount ~/cipher ~/plain`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "foreground", Aliases: []string{"f"}, Usage: "stay in the foreground"},
			&cli.BoolFlag{Name: "ro", Usage: "mount read-only"},
			&cli.BoolFlag{Name: "allow-other", Usage: "let other users access the mount (needs user_allow_other for non-root)"},
			&cli.BoolFlag{Name: "unmarked-symlinks", Usage: "plaintext-names volumes: also follow symlinks made before kmsfs marked them " +
				"(and any planted in CIPHERDIR; each is logged): mount once with it and recreate them"},
			&cli.StringFlag{Name: "log", Usage: "append the serving process's warnings to `FILE` (default: stderr)"},
			&cli.BoolFlag{Name: "debug", Usage: "log every FUSE request", Hidden: true},
		},
		Action: mountAction,
	}
}

func mountAction(c *cli.Context) error {
	if err := needArgs(c, 2); err != nil {
		return err
	}
	cipherDir, mnt := c.Args().Get(0), c.Args().Get(1)
	conf, err := volume.Load(cipherDir)
	if err != nil {
		return err
	}
	if err := checkMountpoint(mnt); err != nil {
		return err
	}
	if !conf.IsKMS() { // a remote-KMS volume involves no local keyring
		registerVolume(c, cipherDir)
	}
	if c.Bool("foreground") {
		return serve(c, cipherDir, mnt)
	}
	return startBackground(c)
}

// checkMountpoint refuses a missing, non-directory, non-empty or mounted path.
func checkMountpoint(mnt string) error {
	f, err := os.Open(mnt)
	if err != nil {
		return fmt.Errorf("mountpoint: %w", err)
	}
	defer f.Close()
	names, err := f.Readdirnames(1)
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("mountpoint %s: %w", mnt, err)
	}
	if len(names) > 0 {
		return fmt.Errorf("%s: %w", mnt, errMountpointBusy)
	}
	return nil
}

// startBackground runs this command again with -f in a new session, hands
// it the passphrase through a pipe (never the environment or argv), and
// waits until it reports the mount ready or failed.
func startBackground(c *cli.Context) error {
	var pass []byte
	if conf, err := volume.Load(c.Args().First()); err == nil && conf.IsKMS() {
		// A remote-KMS volume needs no passphrase: its key is in the KMS.
	} else if client, err := kmsapi.Dial(kmsapi.SocketPath(c.String("keyring"))); err == nil {
		client.Close() // a running mount owns the keyring: no passphrase needed
	} else {
		p, err := passphrase(c, false)
		if err != nil {
			return err
		}
		pass = p
		defer clear(pass)
	}
	passR, passW, err := os.Pipe()
	if err != nil {
		return err
	}
	readyR, readyW, err := os.Pipe()
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	args := []string{"--keyring", c.String("keyring"), "--passfile", "/dev/fd/3", "mount", "-f"}
	for _, b := range []string{"ro", "allow-other", "debug", "unmarked-symlinks"} {
		if c.Bool(b) {
			args = append(args, "--"+b)
		}
	}
	if l := c.String("log"); l != "" {
		args = append(args, "--log", l)
	}
	args = append(args, c.Args().Slice()...)
	cmd := exec.Command(self, args...)
	cmd.ExtraFiles = []*os.File{passR, readyW}
	cmd.Env = append(environWithout(envPassphrase, envNewPassphrase), envReadyFD+"=4")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if c.String("log") == "" {
		cmd.Stderr = os.Stderr
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	passR.Close()
	readyW.Close()
	_, werr := passW.Write(append(pass, '\n'))
	passW.Close()
	if werr != nil {
		return werr
	}
	return awaitReady(cmd, readyR)
}

func awaitReady(cmd *exec.Cmd, readyR *os.File) error {
	defer readyR.Close()
	msg, _ := io.ReadAll(bufio.NewReader(readyR))
	if strings.TrimSpace(string(msg)) == "ok" {
		return cmd.Process.Release()
	}
	err := cmd.Wait()
	code := exitFailure
	var exit *exec.ExitError
	if errors.As(err, &exit) && exit.ExitCode() > 0 {
		code = exit.ExitCode()
	}
	text := strings.TrimSpace(string(msg))
	if text == "" {
		text = fmt.Sprintf("%v: serving process ended: %v", errMountFailed, err)
	}
	return cli.Exit(text, code)
}

// serve mounts in this process and serves until unmounted or signalled.
func serve(c *cli.Context, cipherDir, mnt string) (err error) {
	report := readyReporter()
	defer func() {
		if err != nil && report(err) {
			err = reportedError{err}
		}
	}()
	logger, closeLog, err := mountLogger(c.String("log"), c.Bool("debug"))
	if err != nil {
		return err
	}
	defer closeLog()
	conf, err := volume.Load(cipherDir)
	if err != nil {
		return err
	}
	if conf.IsKMS() {
		return serveRemote(c, conf, cipherDir, mnt, logger, report)
	}
	svc, err := session.ReachKeyring(c.String("keyring"), func() (*local.Keyring, error) {
		s, err := openLocal(c, false)
		if err != nil {
			return nil, err
		}
		return s.local, nil
	}, session.KeyringOptions{Logger: logger})
	if err != nil {
		return err
	}
	defer svc.Close()
	if _, err := session.EnabledKey(c.Context, svc, conf.KeyId); err != nil {
		return fmt.Errorf("volume key: %w", err)
	}
	keys := session.NewVolumeKeys(svc, conf.KeyId)
	codec, err := volumeNames(c, conf, keys, logger)
	if err != nil {
		return err
	}
	if codec != nil {
		defer codec.Close()
	}
	ctl, stopControl, err := session.ServeControl(c.String("keyring"), cipherDir, svc, keys, logger)
	if err != nil {
		return err
	}
	defer stopControl()
	server, root, err := kfs.Mount(mnt, mountOptions(c, conf, cipherDir, keys, codec, logger))
	if err != nil {
		return fmt.Errorf("%w: %w", errMountFailed, err)
	}
	ctl.SetRoot(root)
	report(nil)
	serveMounted(c, server, mnt, logger)
	// Other mounts of this keyring may reach it through this process.
	svc.ServeWhileDependents(c.Context, logger)
	return nil
}

// serveRemote mounts a volume whose key lives in a remote KMS: no local
// keyring, no passphrase, no control socket (that serves a keyring's
// mounts). Opens that the KMS refuses fail with EACCES, those it cannot
// answer in time with EIO, each with a log line; open files keep
// working.
func serveRemote(c *cli.Context, conf *volume.Config, cipherDir, mnt string, logger *slog.Logger, report func(error) bool) error {
	rc, err := session.RemoteConfigOf(conf, logger)
	if err != nil {
		return err
	}
	keys, err := session.NewRemoteKeys(c.Context, rc)
	if err != nil {
		return err
	}
	defer keys.Close()
	if _, err := keys.Describe(c.Context); err != nil {
		return fmt.Errorf("volume key %s: %w", conf.KMS.KeyArn, err)
	}
	codec, err := volumeNames(c, conf, keys, logger)
	if err != nil {
		return err
	}
	if codec != nil {
		defer codec.Close()
	}
	// Offline rewrap and fsck --repair see the mount by this lock: there is
	// no control socket to take them through.
	unlock, err := volume.Lock(cipherDir, false)
	if err != nil {
		return err
	}
	defer unlock()
	server, _, err := kfs.Mount(mnt, mountOptions(c, conf, cipherDir, keys, codec, logger))
	if err != nil {
		return fmt.Errorf("%w: %w", errMountFailed, err)
	}
	report(nil)
	serveMounted(c, server, mnt, logger)
	return nil
}

// serveMounted serves a mount made by this process until it is unmounted
// (by a signal or from outside), with the serving process's runtime tuned
// for it: spare Ps for the FUSE readers and a soft memory limit.
func serveMounted(c *cli.Context, server mountServer, mnt string, logger *slog.Logger) {
	spareProcs(logger)
	stopLimit := limitMemory(logger)
	defer stopLimit()
	go unmountOnSignal(c.Context, server, mnt, logger)
	server.Wait()
}

// spareProcs gives the Go scheduler Ps beyond those the mount's FUSE
// readers can hold while they wait for requests (see package procs). It
// runs after the mount is made, because go-fuse sizes its readers from
// GOMAXPROCS then.
func spareProcs(logger *slog.Logger) {
	before, after, changed := procs.Spare()
	if !changed {
		logger.Debug("GOMAXPROCS left as the user set it", "gomaxprocs", before)
		return
	}
	logger.Debug("GOMAXPROCS raised for the FUSE readers", "from", before, "to", after)
}

// limitMemory starts keeping the serving process's soft memory limit near
// its live heap (see package memlimit), once the mount is up: the
// passphrase KDF before it takes 64 MiB for a moment and returns it
// itself. It returns the function that stops it.
func limitMemory(logger *slog.Logger) func() {
	stop, started := memlimit.Start()
	if !started {
		logger.Debug("memory limit left as the user set it (GOMEMLIMIT, GOGC=off)")
	}
	return stop
}

// authenticateConfig checks kmsfs.conf's MAC (FORMAT.md §15.4) before
// anything of the config is used; a config written before config MACs
// volumeNames authenticates conf with keys, then opens its name codec (nil
// with plaintext names): every mount path checks the config's MAC before
// it uses anything the config says.
func volumeNames(c *cli.Context, conf *volume.Config, keys envelope.KeyService, logger *slog.Logger) (*names.Codec, error) {
	if err := authenticateConfig(c, conf, keys, logger); err != nil {
		return nil, err
	}
	return nameCodec(c.Context, conf, keys)
}

// gets one now, logged once (a read-only mount leaves it as it is).
func authenticateConfig(c *cli.Context, conf *volume.Config, keys envelope.KeyService, logger *slog.Logger) error {
	err := conf.Authenticate(c.Context, keys)
	if !errors.Is(err, volume.ErrNoConfigMAC) {
		return err
	}
	if c.Bool("ro") {
		logger.Info(volume.ConfigName+" has no MAC yet; a read-write mount adds it", "volume", conf.VolumeID)
		return nil
	}
	if err := conf.Upgrade(c.Context, keys); err != nil {
		return fmt.Errorf("adding the MAC to %s: %w", volume.ConfigName, err)
	}
	logger.Info(volume.ConfigName+" upgraded: its fields are authenticated by a MAC from now on", "volume", conf.VolumeID)
	return nil
}

// mountOptions are the filesystem options of a mount of conf's volume,
// local or remote.
func mountOptions(c *cli.Context, conf *volume.Config, cipherDir string, keys envelope.KeyService, codec *names.Codec, logger *slog.Logger) kfs.Options {
	return kfs.Options{
		CipherDir:        cipherDir,
		ChunkSize:        conf.ChunkSize,
		Keys:             keys,
		ReadOnly:         c.Bool("ro"),
		AllowOther:       c.Bool("allow-other"),
		UnmarkedSymlinks: c.Bool("unmarked-symlinks"),
		Debug:            c.Bool("debug"),
		Logger:           logger,
		Names:            codec,
		ReservedNames:    []string{volume.ConfigName, volume.ConfigName + ".tmp"},
	}
}

// nameCodec returns the codec of conf's encrypted names, from its name
// key unwrapped by ks (and zeroed once the codec holds its sub-keys), or
// nil for a volume with plaintext names.
func nameCodec(ctx context.Context, conf *volume.Config, ks envelope.KeyService) (*names.Codec, error) {
	if conf.PlaintextNames {
		return nil, nil
	}
	key, err := conf.NameKey(ctx, ks)
	if err != nil {
		return nil, fmt.Errorf("volume name key: %w", err)
	}
	defer clear(key)
	return names.NewCodec(key)
}

type unmounter interface{ Unmount() error }

// mountServer is the FUSE server of a mount (go-fuse's *fuse.Server).
type mountServer interface {
	unmounter
	Wait()
}

// unmountOnSignal unmounts when ctx ends (SIGINT, SIGTERM); if the mount is
// busy it detaches it lazily so the process can flush and exit.
func unmountOnSignal(ctx context.Context, server unmounter, mnt string, logger *slog.Logger) {
	<-ctx.Done()
	for range 3 {
		if err := server.Unmount(); err == nil {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	logger.Warn("mountpoint busy, detaching lazily", "mountpoint", mnt)
	if err := unix.Unmount(mnt, unix.MNT_DETACH); err != nil {
		logger.Warn("lazy unmount failed", "mountpoint", mnt, "err", err)
	}
}

// readyReporter returns the function that tells a waiting parent (if any)
// whether the mount came up. It reports once, and says whether a parent
// received the report.
func readyReporter() func(error) bool {
	fd := os.Getenv(envReadyFD)
	os.Unsetenv(envReadyFD)
	var n int
	if _, err := fmt.Sscan(fd, &n); fd == "" || err != nil {
		return func(error) bool { return false }
	}
	f := os.NewFile(uintptr(n), "ready")
	return func(err error) bool {
		if f == nil {
			return false
		}
		defer func() { f.Close(); f = nil }()
		msg := "ok"
		if err != nil {
			msg = oneLine(err)
		}
		_, werr := fmt.Fprintln(f, msg)
		return werr == nil
	}
}

// reportedError is an error already shown to the user by the parent
// process; main exits with its code without printing it again.
type reportedError struct{ error }

func (e reportedError) Unwrap() error { return e.error }

// mountLogger logs the serving process's warnings to path (default
// stderr); with debug it also logs every FUSE request.
func mountLogger(path string, debug bool) (*slog.Logger, func(), error) {
	opts := &slog.HandlerOptions{Level: slog.LevelInfo}
	if debug {
		opts.Level = slog.LevelDebug
	}
	if path == "" {
		return slog.New(slog.NewTextHandler(os.Stderr, opts)), func() {}, nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("log: %w", err)
	}
	return slog.New(slog.NewTextHandler(f, opts)), func() { f.Close() }, nil
}

func umountCommand() *cli.Command {
	return &cli.Command{
		Name:      "umount",
		Aliases:   []string{"unmount"},
		Usage:     "unmount a kmsfs mount; its serving process flushes and exits",
		UsageText: "kmsfs umount MOUNTPOINT\n\nExample: kmsfs umount ~/plain",
		Action: func(c *cli.Context) error {
			if err := needArgs(c, 1); err != nil {
				return err
			}
			mnt, err := filepath.Abs(c.Args().First())
			if err != nil {
				return err
			}
			warnDependents(c)
			err = unix.Unmount(mnt, 0)
			if errors.Is(err, unix.EPERM) {
				out, ferr := exec.Command("fusermount3", "-u", mnt).CombinedOutput()
				if ferr != nil {
					return fmt.Errorf("fusermount3 -u %s: %s", mnt, strings.TrimSpace(string(out)))
				}
				return nil
			}
			if err != nil {
				return fmt.Errorf("umount %s: %w", mnt, err)
			}
			return nil
		},
	}
}

// environWithout returns this process's environment less the named
// variables, so a passphrase given in the environment stays out of the
// long-lived serving process (it gets the passphrase through a pipe).
func environWithout(names ...string) []string {
	var out []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(names, name) {
			out = append(out, kv)
		}
	}
	return out
}

// warnDependents says when other mounts reach the keyring through a mount's
// process: that process keeps serving the keyring after this unmount, until
// they are unmounted too.
func warnDependents(c *cli.Context) {
	pids, err := session.Dependents(c.String("keyring"))
	if err != nil || len(pids) == 0 {
		return
	}
	fmt.Fprintf(c.App.ErrWriter, "kmsfs: %d other mount(s) use keyring %s; the process serving it stays until they are unmounted\n", len(pids), c.String("keyring"))
}
