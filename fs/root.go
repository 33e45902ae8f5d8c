package fs

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"golang.org/x/sys/unix"

	"github.com/kmsfs/kmsfs/envelope"
	"github.com/kmsfs/kmsfs/internal/fsutil"
	"github.com/kmsfs/kmsfs/internal/names"
)

// root is the state of one mounted volume, shared by all its nodes.
type root struct {
	dir      string // CipherDir, absolute
	dirfd    int    // CipherDir opened O_PATH: every file open resolves beneath it
	dev      uint64 // CipherDir's device, masked out of inode numbers
	chunk    int
	keys     envelope.KeyService
	names    nameCodec
	nc       *names.Codec    // nil with plaintext names; else symlink targets and xattrs are encrypted too
	reserved map[string]bool // backing names hidden at the root
	readOnly bool
	asRoot   bool   // we run as uid 0 and so give new files the caller's owner
	egid     uint32 // our gid, which new files get unless a setgid directory decides
	log      *slog.Logger
	files    *openTable
	warned   *onceSet
	// links is the link key of a plaintext-names volume (linkkey.go);
	// unmarkedLinks follows symlinks without its mark too
	// (Options.UnmarkedSymlinks).
	links         linkKey
	unmarkedLinks bool
	// syncs group-commits the syncs of rewraps served beside the mount
	// (rewrap.go); like dirfd, it lives as long as the mount.
	syncs *fsutil.SyncGroup
}

// NewRoot returns the root node of a kmsfs volume, for mounting with
// go-fuse's fs.Mount (in-process tests). Mount is what programs use.
func NewRoot(opts Options) (gofs.InodeEmbedder, error) {
	r, err := newRoot(opts)
	if err != nil {
		return nil, err
	}
	return &node{r: r}, nil
}

func newRoot(opts Options) (*root, error) {
	if opts.Keys == nil {
		return nil, ErrNoKeys
	}
	if opts.ChunkSize < 0 || envelope.CiphertextSize(1, opts.chunkSize()) < 0 {
		return nil, fmt.Errorf("%w: %d", ErrChunkSize, opts.ChunkSize)
	}
	dir, err := filepath.Abs(opts.CipherDir)
	if opts.CipherDir == "" || err != nil {
		return nil, ErrNoCipherDir
	}
	var st syscall.Stat_t
	if err := syscall.Stat(dir, &st); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoCipherDir, err)
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFDIR {
		return nil, fmt.Errorf("%w: %s", ErrNoCipherDir, dir)
	}
	// The descriptor lives as long as the mount: nodes have no unmount hook.
	dirfd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoCipherDir, err)
	}
	syncs, err := fsutil.NewSyncGroup(dir)
	if err != nil {
		unix.Close(dirfd)
		return nil, fmt.Errorf("%w: %w", ErrNoCipherDir, err)
	}
	r := &root{
		dir: dir, dirfd: dirfd, syncs: syncs, dev: uint64(st.Dev), chunk: opts.chunkSize(),
		keys: opts.Keys, names: identityNames{}, reserved: map[string]bool{},
		readOnly: opts.ReadOnly, asRoot: os.Geteuid() == 0, egid: uint32(os.Getegid()), log: opts.logger(),
		files: newOpenTable(), warned: newOnceSet(4096), unmarkedLinks: opts.UnmarkedSymlinks,
	}
	for _, n := range opts.ReservedNames {
		r.reserved[n] = true
	}
	if opts.Names != nil {
		r.names, r.nc = encNames{c: opts.Names}, opts.Names
	} else {
		r.reserved[linkKeyFile], r.reserved[linkKeyTemp] = true, true
	}
	return r, nil
}

// fail maps err to the errno the program sees and logs it as it deserves.
// path is the plaintext path, for the log only.
func (r *root) fail(err error, path string) syscall.Errno {
	en, kind := errnoOf(err)
	switch kind {
	case kindCorrupt:
		r.log.Warn("kmsfs: corrupt file contents", "path", path, "chunk", envelope.ChunkIndex(err), "err", err)
	case kindForeign:
		if r.warned.first(path) {
			r.log.Warn("kmsfs: not a kmsfs file or unreadable header", "path", path, "err", err)
		}
	case kindKeys:
		if r.warned.first(path) {
			r.log.Warn("kmsfs: key service refused the file's key", "path", path, "err", err)
		}
	case kindDirIV:
		r.log.Warn("kmsfs: directory IV file missing or damaged: not creating entries in it (a new IV would orphan every name; restore "+
			names.DirIVFile+" or move the entries out)", "path", path, "err", err)
	case kindMeta:
		r.log.Warn("kmsfs: symlink target or xattr value failed authentication", "path", path, "err", err)
	case kindUnknown:
		r.log.Warn("kmsfs: unexpected error", "path", path, "err", err)
	}
	return en
}

// writable refuses changes on a read-only volume. The kernel already does
// for a mount made by Mount ("ro"); this covers roots mounted by hand.
func (r *root) writable() syscall.Errno {
	if r.readOnly {
		return syscall.EROFS
	}
	return 0
}

// plainSize returns the plaintext size of the regular file st describes:
// the open file's size when it is open (it is authoritative while being
// written), else the size computed from the ciphertext size without reading
// the file. A size that no kmsfs file can have is logged once.
func (r *root) plainSize(st *syscall.Stat_t, path string) int64 {
	if of := r.files.peek(keyOf(st)); of != nil {
		return of.ef.Size()
	}
	// On error n is 0, or the whole chunks before a torn tail.
	n, err := envelope.PlaintextSize(st.Size, r.chunk)
	if err != nil && r.warned.first(path) {
		r.log.Warn("kmsfs: not a kmsfs file (impossible ciphertext size)", "path", path, "size", st.Size, "err", err)
	}
	return n
}

// onceSet remembers keys seen, to log a warning once per file. It forgets
// everything when full so that it cannot grow without bound.
type onceSet struct {
	mu   sync.Mutex
	max  int
	seen map[string]struct{}
}

func newOnceSet(max int) *onceSet {
	return &onceSet{max: max, seen: map[string]struct{}{}}
}

// first reports whether k is seen for the first time.
func (s *onceSet) first(k string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.seen[k]; ok {
		return false
	}
	if len(s.seen) >= s.max {
		clear(s.seen)
	}
	s.seen[k] = struct{}{}
	return true
}
