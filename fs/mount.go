package fs

import (
	"log"
	"log/slog"
	"os"
	"strconv"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// Mount mounts the volume described by opts at mountpoint and returns once
// the mount is ready (go-fuse's WaitMount). Stop it with server.Unmount.
// The Root serves work the mount process does beside FUSE requests
// (rewraps from the control socket), which must go through the mount's
// open-file state.
func Mount(mountpoint string, opts Options) (*fuse.Server, *Root, error) {
	r, err := newRoot(opts)
	if err != nil {
		return nil, nil, err
	}
	srv, err := gofs.Mount(mountpoint, &node{r: r}, fuseOptions(&opts))
	if err != nil {
		return nil, nil, err
	}
	afterMount(mountpoint, &opts)
	return srv, &Root{r: r}, nil
}

// afterMount does what needs the mount served: settings of the process
// and of the kernel's view of the mount that mount(2) cannot carry.
func afterMount(mountpoint string, opts *Options) {
	closeFuseOnExec()
	if ra := opts.readAhead(); ra > 0 {
		if err := setReadAhead(mountpoint, ra); err != nil {
			opts.logger().Debug("kmsfs: keeping the kernel's readahead window", "err", err)
		}
	}
}

// closeFuseOnExec marks every /dev/fuse descriptor of this process
// close-on-exec. go-fuse v2.12.1 opens /dev/fuse without O_CLOEXEC when
// DirectMount succeeds (fuse/mount_linux.go mountDirect; only the
// fusermount path sets it), so a child process would inherit the
// connection: if the child outlives us while using the mount, it can wait
// on itself forever.
func closeFuseOnExec() {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return
	}
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if dst, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil && dst == "/dev/fuse" {
			syscall.CloseOnExec(fd)
		}
	}
}

// fuseOptions returns the go-fuse settings of a mount (tests mount with
// them too). With Options.Debug, go-fuse logs every request at
// slog.LevelDebug on Options.Logger.
//
// Entries, attributes and negative entries stay valid in the kernel for
// cacheTimeout: while mounted, kmsfs is the only writer of CipherDir, and
// every change made through the mount updates or drops the kernel's
// copy, so a longer timeout only delays changes made behind the mount's
// back (which kmsfs does not support).
// MaxWrite is go-fuse's maximum (1 MiB) so that big writes cost few round
// trips and seal many chunks at once. DirectMount calls mount(2) itself
// (we run as root) and falls back to fusermount3 when that fails.
// DisableSplice: every read reply is plaintext we decrypted into memory,
// never a file descriptor go-fuse could splice from; with splicing on,
// go-fuse (v2.12.1) still wrote each reply's header into a pipe, found it
// could not splice the data, drained the pipe and fell back to writev:
// three wasted syscalls per read.
// NullPermissions shows mode 000 as 000, as a local disk does.
// Locks are not forwarded (EnableLocks unset): the kernel then keeps flock
// and POSIX locks itself, which is exact for a filesystem with one mount.
func fuseOptions(opts *Options) *gofs.Options {
	sec := cacheTimeout
	lg := opts.logger()
	mo := fuse.MountOptions{
		MaxWrite:      fuse.MAX_KERNEL_WRITE,
		MaxBackground: 64,
		FsName:        "kmsfs",
		Name:          "kmsfs",
		DirectMount:   true,
		DisableSplice: true,
		// The server clears set-ID bits on writes and truncations (see
		// capHandleKillprivV2), so the kernel stops asking for
		// security.capability before every write.
		ExtraCapabilities: capHandleKillprivV2,
		AllowOther:        opts.AllowOther,
		Debug:             opts.Debug,
		Logger:            slog.NewLogLogger(lg.Handler(), slog.LevelDebug),
	}
	if opts.AllowOther {
		// Other users are only safe when the kernel checks permissions:
		// we run as root and the backing files would let anyone in.
		mo.Options = append(mo.Options, "default_permissions")
	}
	if opts.ReadOnly {
		mo.Options = append(mo.Options, "ro")
	}
	return &gofs.Options{
		MountOptions:    mo,
		EntryTimeout:    &sec,
		AttrTimeout:     &sec,
		NegativeTimeout: &sec,
		NullPermissions: true,
		Logger:          log.New(slogWriter{lg}, "", 0),
	}
}

// capHandleKillprivV2 is FUSE_HANDLE_KILLPRIV_V2 (Linux 5.11), which
// go-fuse v2.12.1 does not name. Without it, the kernel sends a GETXATTR of
// security.capability before every buffered write, to learn whether the
// write must drop privileges: a round trip per write(2) (2.7 per file of an
// untar). With it, the kernel asks once per inode and leaves clearing
// set-user-ID and set-group-ID to the server: on writes, fallocate and
// copy_file_range (openFile.dropPrivs, for every writer) and on
// truncations (fattrKillSUIDGID); a chown of the backing file clears them
// itself. kmsfs offers no security.* attributes, so there is no
// capability to drop.
const capHandleKillprivV2 = 1 << 28

// cacheTimeout is how long the kernel may use an entry or attributes
// without asking again. With 1 s (what gocryptfs uses), a `du -s` of a
// tree listed a few seconds earlier sent a LOOKUP or GETATTR for every
// entry; securefs uses 30 s.
const cacheTimeout = 30 * time.Second

// slogWriter turns go-fuse's diagnostic lines (conditions it cannot
// return as errors) into warnings.
type slogWriter struct{ l *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	w.l.Warn("go-fuse: " + string(trimNL(p)))
	return len(p), nil
}

func trimNL(p []byte) []byte {
	for len(p) > 0 && p[len(p)-1] == '\n' {
		p = p[:len(p)-1]
	}
	return p
}
