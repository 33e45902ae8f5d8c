package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/kmsfs/kmsfs/internal/maintain"
	"github.com/kmsfs/kmsfs/internal/names"
	"github.com/kmsfs/kmsfs/internal/session"
	"github.com/kmsfs/kmsfs/internal/volume"
	"github.com/kmsfs/kmsfs/keyring"
)

// Shared plumbing of the tree commands (rewrap, fsck, rekey, key
// min-version and destroy-versions).

// errMountedNoControl refuses to work on a tree beside a mount that may
// be serving it: its open files' header state would go stale.
var errMountedNoControl = errors.New("the directory may be mounted, but its mount's control socket does not answer")

func jobsFlag() cli.Flag {
	return &cli.IntFlag{Name: "jobs", Aliases: []string{"j"}, Usage: "files handled at once (default: 2 per CPU)"}
}

// rewrapJobsFlag is jobsFlag for rewrap, whose default is higher (see
// maintain.RewrapJobs).
func rewrapJobsFlag() cli.Flag {
	return &cli.IntFlag{Name: "jobs", Aliases: []string{"j"}, Usage: "files handled at once (default: 64, or 2 per CPU if more; a mount rewraps 2 per CPU)"}
}

// rewrapJobs is a rewrap's --jobs: unless set, maintain.RewrapJobs in
// this process, and 0 (maintain's default) when the mount does the work.
func rewrapJobs(c *cli.Context, online bool) int {
	if c.IsSet("jobs") || online {
		return c.Int("jobs")
	}
	return maintain.RewrapJobs()
}

// newProgress reports on stderr: a bar when it is a terminal, else a
// plain line every 5 seconds.
func newProgress(c *cli.Context, label string) *maintain.Progress {
	tty := false
	if f, ok := c.App.ErrWriter.(*os.File); ok {
		tty = term.IsTerminal(int(f.Fd()))
	}
	return maintain.NewProgress(c.App.ErrWriter, label, maintain.ProgressOptions{Terminal: tty})
}

// namerFor returns how reports show the paths of conf's tree at dir, and a
// function to call when the command ends. With encrypted names it
// decrypts them with the volume's name key, unwrapped by svc; if that key
// does not unwrap, reports show cipher paths (the commands report the
// name key's failure themselves).
func namerFor(ctx context.Context, dir string, conf *volume.Config, svc keyring.Service) (maintain.Namer, func()) {
	codec, err := nameCodec(ctx, conf, keyring.NewKeyService(svc, conf.KeyId))
	if err != nil || codec == nil {
		return maintain.PlainNames{}, func() {}
	}
	return names.NewTree(codec, dir), codec.Close
}

// registerVolume records dir in the keyring's registry of known volumes
// (scanned before a key version is retired). Failing to is only a
// warning: the command itself succeeded.
func registerVolume(c *cli.Context, dir string) {
	if err := session.RegisterVolume(c.String("keyring"), dir); err != nil {
		fmt.Fprintf(c.App.ErrWriter, "kmsfs: warning: could not record %s as a known volume: %v\n", dir, err)
	}
}

// dialMount returns the client of the control socket of cipherDir's
// mount, or nil if the tree is not mounted. It fails with
// errMountedNoControl when the socket exists but does not answer while a
// kmsfs mount exists: mountinfo names kmsfs mounts "kmsfs", not by their
// CIPHERDIR, so that mount may be this tree's.
func dialMount(c *cli.Context, cipherDir string) (*session.ControlClient, error) {
	sock, err := session.ControlSocketPath(c.String("keyring"), cipherDir)
	if err != nil {
		return nil, err
	}
	ctl, err := session.DialControl(c.Context, sock)
	if err == nil {
		return ctl, nil
	}
	if !errors.Is(err, session.ErrNotServing) {
		return nil, err
	}
	if _, serr := os.Lstat(sock); serr != nil {
		return nil, nil // no socket: not mounted (by this keyring)
	}
	mounts, err := session.Mounts()
	if err != nil {
		return nil, err
	}
	for _, m := range mounts {
		if m.FSType == session.KmsfsFSType {
			return nil, fmt.Errorf("%s: %w (%s; a kmsfs mount is at %s): unmount it, or remove the stale socket if that mount serves another tree",
				cipherDir, errMountedNoControl, sock, m.MountPoint)
		}
	}
	return nil, nil
}

// writeFailures lists a run's failures, at most limit of them.
func writeFailures(w io.Writer, s *maintain.Summary, limit int) {
	for i, f := range s.Failures {
		if i == limit {
			break
		}
		fmt.Fprintf(w, "  %s: %s\n", f.Path, oneLine(f.Err))
	}
	if n := s.Failed - int64(min(limit, len(s.Failures))); n > 0 {
		fmt.Fprintf(w, "  ... and %d more\n", n)
	}
}

// failureJSON is a failure in --json output.
type failureJSON struct {
	Path  string
	Error string
}

func failuresJSON(s *maintain.Summary) []failureJSON {
	out := make([]failureJSON, 0, len(s.Failures))
	for _, f := range s.Failures {
		out = append(out, failureJSON{Path: f.Path, Error: oneLine(f.Err)})
	}
	return out
}

// plural returns "1 file" or "n files".
func plural(n int64, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// byteSize formats a byte count for people, in decimal units.
func byteSize(n int64) string {
	switch {
	case n < 1000:
		return fmt.Sprintf("%d B", n)
	case n < 1e6:
		return fmt.Sprintf("%.1f kB", float64(n)/1e3)
	case n < 1e9:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	}
	return fmt.Sprintf("%.2f GB", float64(n)/1e9)
}
