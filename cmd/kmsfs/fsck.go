package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/kmsfs/kmsfs/envelope"
	"github.com/kmsfs/kmsfs/internal/maintain"
	"github.com/kmsfs/kmsfs/internal/names"
	"github.com/kmsfs/kmsfs/internal/session"
	"github.com/kmsfs/kmsfs/internal/volume"
	"github.com/kmsfs/kmsfs/keyring"
	"github.com/kmsfs/kmsfs/keyring/kmsclient"
)

func fsckCommand() *cli.Command {
	return &cli.Command{
		Name:  "fsck",
		Usage: "verify every file of CIPHERDIR without mounting it",
		UsageText: `kmsfs fsck [--quick] [--repair] [--jobs N] CIPHERDIR

Checks, read-only and in parallel, that every header parses, unwraps and
authenticates, each of its two slots on its own (a newest slot that fails while
readers fall back to the older one is a problem), that every chunk
authenticates (--quick: headers and sizes only), that sizes are consistent (no
truncation below the committed size, no torn tail, the volume's chunk size),
and that no stray temporary file of an interrupted kmsfs write or non-kmsfs
file is left. It checks the volume config (its key exists and is enabled, the
name key unwraps) and, with encrypted names, every directory's IV file, every
name, long-name side file, symlink target and encrypted xattr.
Prints one line per problem with the file's path, then a summary; exits 6 if
anything is wrong.

--repair (only while CIPHERDIR is not mounted) rewrites what can be rewritten
from good data and never deletes anything: a damaged header slot is rewritten
from the slot that opens; the entries of a directory whose IV file is missing
are moved, under their stored names, into lost+found at the root (the mount
lists them marked "kmsfs-undecryptable~..."; rename them back), and the
directory gets a new IV file. What was repaired is printed with "repaired:";
fsck exits 6 only if problems remain.
Without --repair it may run while CIPHERDIR is mounted; files being written
meanwhile may then be reported wrongly.

Example: kmsfs fsck ~/cipher`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "quick", Usage: "check headers and sizes only, not every chunk"},
			&cli.BoolFlag{Name: "repair", Usage: "rewrite damaged header slots and move the entries of a directory without IV file to lost+found (not while mounted)"},
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
	Problems       int64 // files and name-level items with problems left
	Failures       []failureJSON
	Repaired       []failureJSON `json:",omitempty"` // --repair: what was fixed
	Names          int64         // directories, names, side files, xattrs checked (encrypted names)
	Skipped        int64         // kmsfs metadata, symlinks, special files
	Bytes          int64
	ElapsedSeconds float64
	MBPerSecond    float64
}

// errMountedRepair refuses --repair on a mounted tree.
var errMountedRepair = errors.New("fsck --repair: the directory is mounted; unmount it first (the mount holds header state of its open files)")

// fsckRun gathers what the parts of one fsck found.
type fsckRun struct {
	c        *cli.Context
	mu       sync.Mutex
	problems []maintain.Failure // config and names, before the files'
	repaired []maintain.Failure
	names    int64
}

func (r *fsckRun) problem(path string, err error) {
	r.mu.Lock()
	r.problems = append(r.problems, maintain.Failure{Path: path, Err: err})
	r.mu.Unlock()
	if !r.c.Bool("json") {
		fmt.Fprintf(r.c.App.Writer, "%s: %s\n", path, problemText(err))
	}
}

func (r *fsckRun) fixed(path string, what error, how string) {
	r.mu.Lock()
	r.repaired = append(r.repaired, maintain.Failure{Path: path, Err: what})
	r.mu.Unlock()
	if !r.c.Bool("json") {
		fmt.Fprintf(r.c.App.Writer, "%s: repaired: %s%s\n", path, problemText(what), how)
	}
}

func fsckAction(c *cli.Context) error {
	if err := needArgs(c, 1); err != nil {
		return err
	}
	dir := c.Args().First()
	conf, err := volume.Load(dir)
	if err != nil {
		return err
	}
	vk, err := openVolumeKeys(c, dir, conf)
	if err != nil {
		return err
	}
	defer vk.close()
	repair := c.Bool("repair")
	if vk.mounted {
		if repair {
			return errMountedRepair
		}
		fmt.Fprintf(c.App.ErrWriter, "kmsfs fsck: note: %s is mounted; files written meanwhile may be reported wrongly\n", dir)
	}
	run := &fsckRun{c: c}
	checkConfig(c.Context, run, conf, vk)
	codec, namer := fsckNames(c.Context, dir, conf, vk.keys)
	if codec != nil {
		defer codec.Close()
		if err := checkNames(c.Context, run, dir, codec, namer, repair); err != nil {
			return err
		}
	}
	s, err := runFsck(c, run, dir, conf, vk, namer)
	if err != nil {
		return err
	}
	fileProblems, other := s.Failed, int64(len(run.problems))
	s.Failed += other
	s.Failures = append(run.problems, s.Failures...)
	rep := fsckReport{CipherDir: dir, Quick: c.Bool("quick"), Files: s.Scanned - s.Skipped, Clean: s.Current,
		Problems: s.Failed, Failures: failuresJSON(s), Repaired: repairedJSON(run.repaired), Names: run.names,
		Skipped: s.Skipped, Bytes: s.Bytes, ElapsedSeconds: s.Elapsed.Seconds(),
		MBPerSecond: float64(s.Bytes) / 1e6 / max(s.Elapsed.Seconds(), 1e-9)}
	if err := printResult(c, rep, fsckText(rep, s)); err != nil {
		return err
	}
	if s.Failed > 0 {
		msg := fmt.Sprintf("kmsfs fsck: %s: %s with problems", dir, plural(fileProblems, "file"))
		if other > 0 {
			msg += fmt.Sprintf(", %s of the config or names", plural(other, "other problem"))
		}
		return cli.Exit(msg, exitIntegrity)
	}
	return nil
}

// volumeKeys are the key services an offline job needs for one volume,
// whether its key lives in the local keyring or in a remote KMS.
type volumeKeys struct {
	keys     envelope.KeyService // unwraps headers and the name key
	keysFor  maintain.KeysFor    // wraps under a given key (repair, rewrap)
	checkKey func(context.Context) error
	mounted  bool
	close    func()
	// remote is the KMS client of a remote-KMS volume, nil for a keyring's.
	remote *kmsclient.Service
}

// openVolumeKeys reaches conf's key service: its keyring (through the
// mount's socket if mounted), or its remote KMS.
func openVolumeKeys(c *cli.Context, dir string, conf *volume.Config) (*volumeKeys, error) {
	if conf.IsKMS() {
		return openRemoteVolumeKeys(c, dir, conf)
	}
	svc, err := openService(c, false)
	if err != nil {
		return nil, err
	}
	vk := &volumeKeys{keys: keyring.NewKeyService(svc, conf.KeyId), keysFor: session.KeysFor(svc),
		checkKey: func(ctx context.Context) error { _, err := session.EnabledKey(ctx, svc, conf.KeyId); return err },
		close:    func() { svc.Close() }}
	ctl, err := dialMount(c, dir)
	if ctl != nil {
		ctl.Close()
	}
	vk.mounted = ctl != nil || err != nil
	return vk, nil
}

// openRemoteVolumeKeys is openVolumeKeys for a remote-KMS volume, which
// is mounted while its mount holds the config's shared lock.
func openRemoteVolumeKeys(c *cli.Context, dir string, conf *volume.Config) (*volumeKeys, error) {
	rc, err := session.RemoteConfigOf(conf, nil)
	if err != nil {
		return nil, err
	}
	ks, err := session.NewRemoteKeys(c.Context, rc)
	if err != nil {
		return nil, err
	}
	vk := &volumeKeys{keys: ks, keysFor: session.RemoteKeysFor(ks),
		checkKey: func(ctx context.Context) error { _, err := ks.Describe(ctx); return err },
		close:    func() { ks.Close() }, remote: ks}
	unlock, err := volume.Lock(dir, true)
	switch {
	case errors.Is(err, volume.ErrInUse):
		vk.mounted = true
	case err != nil:
		ks.Close()
		return nil, err
	default:
		vk.close = func() { unlock(); ks.Close() }
	}
	return vk, nil
}

// checkConfig checks the volume config's key: it exists and is enabled
// (new files are wrapped under it), and the name key (encrypted names)
// unwraps, as every file header's DEK must.
func checkConfig(ctx context.Context, run *fsckRun, conf *volume.Config, vk *volumeKeys) {
	if err := vk.checkKey(ctx); err != nil {
		run.problem(volume.ConfigName, fmt.Errorf("volume key %s: %w", conf.KeyId, err))
	}
	// The MAC (FORMAT.md §15.4), through the name key or the config key;
	// a config without one yet gets it at its next read-write mount.
	err := conf.Authenticate(ctx, vk.keys)
	if errors.Is(err, volume.ErrNoConfigMAC) && !conf.PlaintextNames {
		key, kerr := conf.NameKey(ctx, vk.keys)
		clear(key)
		err = kerr
	}
	if err != nil && !errors.Is(err, volume.ErrNoConfigMAC) {
		run.problem(volume.ConfigName, fmt.Errorf("config: %w", err))
	}
}

// fsckNames returns the codec of an encrypted-names volume (nil if names
// are plaintext or the name key does not unwrap, which checkConfig reports)
// and the Namer that shows paths.
func fsckNames(ctx context.Context, dir string, conf *volume.Config, ks envelope.KeyService) (*names.Codec, maintain.Namer) {
	codec, err := nameCodec(ctx, conf, ks)
	if err != nil || codec == nil {
		return nil, maintain.PlainNames{}
	}
	return codec, names.NewTree(codec, dir)
}

// checkNames verifies every name-level item; with repair, a directory
// whose IV file is missing has its entries moved to lost+found.
func checkNames(ctx context.Context, run *fsckRun, dir string, codec *names.Codec, namer maintain.Namer, repair bool) error {
	var lost []maintain.NameProblem
	n, inLost, err := maintain.CheckNames(ctx, dir, codec, func(p maintain.NameProblem) {
		if repair && p.Dir && errors.Is(p.Err, names.ErrNoDirIV) && p.Rel != "." {
			lost = append(lost, p)
			return
		}
		run.problem(displayDir(namer, p), p.Err)
	})
	run.names = n
	if err != nil {
		return err
	}
	if inLost > 0 && !run.c.Bool("json") {
		fmt.Fprintf(run.c.App.Writer, "note: %d entries wait in %s (moved there by fsck --repair; rename or delete them)\n", inLost, maintain.LostFound)
	}
	for _, p := range lost {
		shown := displayDir(namer, p)
		dest, moved, rerr := maintain.RepairDirIV(dir, p.Rel, namer.Display(p.Rel), codec)
		if rerr != nil {
			run.problem(shown, fmt.Errorf("%w; repair failed: %w", p.Err, rerr))
			continue
		}
		run.fixed(shown, p.Err, fmt.Sprintf("; moved %d entries to %s and gave the directory a new IV file",
			moved, namer.Display(dest)))
	}
	return nil
}

// displayDir shows a name problem's path; a directory's problem ends
// with a slash.
func displayDir(namer maintain.Namer, p maintain.NameProblem) string {
	if !p.Dir {
		return namer.Display(p.Rel)
	}
	if p.Rel == "." {
		return "./"
	}
	return namer.Display(p.Rel) + "/"
}

// runFsck checks the tree's files; each problem is printed on stdout as it
// is found (unless --json), so a long run shows them early.
func runFsck(c *cli.Context, run *fsckRun, dir string, conf *volume.Config, vk *volumeKeys, namer maintain.Namer) (*maintain.Summary, error) {
	chk, err := maintain.NewChecker(dir, vk.keys, conf.ChunkSize, c.Bool("quick"))
	if err != nil {
		return nil, err
	}
	defer chk.Close()
	if c.Bool("repair") {
		chk.EnableRepair(vk.keysFor)
	}
	p := newProgress(c, "fsck")
	opts := maintain.Options{Jobs: c.Int("jobs"), Progress: p, Names: namer}
	if !c.Bool("json") {
		opts.OnFailure = func(f maintain.Failure) {
			p.Print(c.App.Writer, f.Path+": "+problemText(f.Err)+"\n")
		}
	}
	s, err := maintain.Run(c.Context, dir, chk.Task(), opts)
	for _, f := range chk.Repaired() {
		run.fixed(namer.Display(f.Path), f.Err, "; both header slots rewritten from the one that opens")
	}
	return s, err
}

func repairedJSON(fs []maintain.Failure) []failureJSON {
	var out []failureJSON
	for _, f := range fs {
		out = append(out, failureJSON{Path: f.Path, Error: oneLine(f.Err)})
	}
	return out
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
	text := fmt.Sprintf("fsck %s (%s): checked %s, %s in %s (%.1f MB/s): %d clean, %d with problems",
		rep.CipherDir, mode, plural(rep.Files, "file"), byteSize(rep.Bytes), s.Elapsed.Round(time.Millisecond),
		rep.MBPerSecond, rep.Clean, rep.Problems)
	if rep.Names > 0 {
		text += fmt.Sprintf("; %d names, directories and xattrs checked", rep.Names)
	}
	if len(rep.Repaired) > 0 {
		text += fmt.Sprintf("; %d repaired", len(rep.Repaired))
	}
	return text
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
