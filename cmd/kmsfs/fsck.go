package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/kmsfs/kmsfs/internal/maintain"
	"github.com/kmsfs/kmsfs/internal/volume"
	"github.com/kmsfs/kmsfs/keyring"
)

func fsckCommand() *cli.Command {
	return &cli.Command{
		Name:  "fsck",
		Usage: "verify every file of CIPHERDIR without mounting it",
		UsageText: `kmsfs fsck [--quick] [--jobs N] CIPHERDIR

Checks, read-only and in parallel, that every header parses, unwraps and
authenticates, that every chunk authenticates (--quick: headers and sizes only),
that sizes are consistent (no truncation below the committed size, no torn
tail, the volume's chunk size), and that no stray temporary file of an
interrupted kmsfs write or non-kmsfs file is left. Prints one line per problem
with the file's path, then a summary; exits 6 if anything is wrong.
It may run while CIPHERDIR is mounted; files being written meanwhile may then
be reported wrongly.

Example: kmsfs fsck ~/cipher`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "quick", Usage: "check headers and sizes only, not every chunk"},
			jobsFlag(),
		},
		Action: fsckAction,
	}
}

// fsckReport is the --json output of kmsfs fsck.
type fsckReport struct {
	CipherDir      string
	Quick          bool
	Files          int64 // files checked
	Clean          int64
	Problems       int64
	Failures       []failureJSON
	Skipped        int64 // kmsfs metadata, symlinks, special files
	Bytes          int64
	ElapsedSeconds float64
	MBPerSecond    float64
}

func fsckAction(c *cli.Context) error {
	dir, conf, svc, err := openVolume(c)
	if err != nil {
		return err
	}
	defer svc.Close()
	if ctl, err := dialMount(c, dir); ctl != nil || err != nil {
		if ctl != nil {
			ctl.Close()
		}
		fmt.Fprintf(c.App.ErrWriter, "kmsfs fsck: note: %s is mounted; files written meanwhile may be reported wrongly\n", dir)
	}
	nameKeyErr := checkNameKeyUnwraps(c, conf, svc)
	s, err := runFsck(c, dir, conf, svc)
	if err != nil {
		return err
	}
	if nameKeyErr != nil {
		s.Failed++
		s.Failures = append([]maintain.Failure{{Path: volume.ConfigName, Err: nameKeyErr}}, s.Failures...)
	}
	rep := fsckReport{CipherDir: dir, Quick: c.Bool("quick"), Files: s.Scanned - s.Skipped, Clean: s.Current,
		Problems: s.Failed, Failures: failuresJSON(s), Skipped: s.Skipped, Bytes: s.Bytes,
		ElapsedSeconds: s.Elapsed.Seconds(), MBPerSecond: float64(s.Bytes) / 1e6 / max(s.Elapsed.Seconds(), 1e-9)}
	if err := printResult(c, rep, fsckText(rep, s)); err != nil {
		return err
	}
	if s.Failed > 0 {
		return cli.Exit(fmt.Sprintf("kmsfs fsck: %s: %s with problems", dir, plural(s.Failed, "file")), exitIntegrity)
	}
	return nil
}

// checkNameKeyUnwraps checks that the volume's name key (encrypted names)
// unwraps, as every file header's DEK must; it prints the problem at once.
func checkNameKeyUnwraps(c *cli.Context, conf *volume.Config, svc *service) error {
	if conf.PlaintextNames {
		return nil
	}
	key, err := conf.NameKey(c.Context, keyring.NewKeyService(svc, conf.KeyId))
	clear(key)
	if err != nil && !c.Bool("json") {
		fmt.Fprintf(c.App.Writer, "%s: %s\n", volume.ConfigName, problemText(err))
	}
	return err
}

// runFsck checks the tree; each problem is printed on stdout as it is
// found (unless --json), so a long run shows them early.
func runFsck(c *cli.Context, dir string, conf *volume.Config, svc *service) (*maintain.Summary, error) {
	chk, err := maintain.NewChecker(dir, keyring.NewKeyService(svc, conf.KeyId), conf.ChunkSize, c.Bool("quick"))
	if err != nil {
		return nil, err
	}
	defer chk.Close()
	p := newProgress(c, "fsck")
	namer, closeNamer := namerFor(c.Context, dir, conf, svc)
	defer closeNamer()
	opts := maintain.Options{Jobs: c.Int("jobs"), Progress: p, Names: namer}
	if !c.Bool("json") {
		opts.OnFailure = func(f maintain.Failure) {
			p.Print(c.App.Writer, f.Path+": "+problemText(f.Err)+"\n")
		}
	}
	return maintain.Run(c.Context, dir, chk.Task(), opts)
}

// problemText keeps a problem on one line; several damaged chunks of one
// file are joined with "; ".
func problemText(err error) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", "; ")), " ")
}

func fsckText(rep fsckReport, s *maintain.Summary) string {
	mode := "full"
	if rep.Quick {
		mode = "quick"
	}
	return fmt.Sprintf("fsck %s (%s): checked %s, %s in %s (%.1f MB/s): %d clean, %d with problems",
		rep.CipherDir, mode, plural(rep.Files, "file"), byteSize(rep.Bytes), s.Elapsed.Round(time.Millisecond),
		rep.MBPerSecond, rep.Clean, rep.Problems)
}

// openVolume loads the config of CIPHERDIR, the command's one argument,
// and reaches its keyring.
func openVolume(c *cli.Context) (dir string, conf *volume.Config, svc *service, err error) {
	if err := needArgs(c, 1); err != nil {
		return "", nil, nil, err
	}
	dir = c.Args().First()
	if conf, err = volume.Load(dir); err != nil {
		return "", nil, nil, err
	}
	if svc, err = openService(c, false); err != nil {
		return "", nil, nil, err
	}
	return dir, conf, svc, nil
}
