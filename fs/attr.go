package fs

import (
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

// fileKey identifies a backing inode: the key of the open-file table.
type fileKey struct{ dev, ino uint64 }

func keyOf(st *syscall.Stat_t) fileKey {
	return fileKey{dev: uint64(st.Dev), ino: st.Ino}
}

// stat is a backing file's stat plus its birth time, which tells a reused
// inode number apart from the file that had it before.
type stat struct {
	syscall.Stat_t
	btime syscall.Timespec
}

// lstatAt stats path without following a final symlink.
func lstatAt(path string, st *stat) error {
	return statx(unix.AT_FDCWD, path, unix.AT_SYMLINK_NOFOLLOW, st)
}

// fstatFd stats an open descriptor.
func fstatFd(fd int, st *stat) error {
	return statx(fd, "", unix.AT_EMPTY_PATH, st)
}

func statx(dirfd int, path string, flags int, st *stat) error {
	var x unix.Statx_t
	if err := unix.Statx(dirfd, path, flags|unix.AT_STATX_SYNC_AS_STAT, unix.STATX_BASIC_STATS|unix.STATX_BTIME, &x); err != nil {
		return err
	}
	s := &st.Stat_t
	s.Dev = unix.Mkdev(x.Dev_major, x.Dev_minor)
	s.Ino = x.Ino
	s.Nlink = uint64(x.Nlink)
	s.Mode = uint32(x.Mode)
	s.Uid, s.Gid = x.Uid, x.Gid
	s.Rdev = unix.Mkdev(x.Rdev_major, x.Rdev_minor)
	s.Size = int64(x.Size)
	s.Blksize = int64(x.Blksize)
	s.Blocks = int64(x.Blocks)
	s.Atim = timespec(x.Atime)
	s.Mtim = timespec(x.Mtime)
	s.Ctim = timespec(x.Ctime)
	st.btime = syscall.Timespec{}
	if x.Mask&unix.STATX_BTIME != 0 {
		st.btime = timespec(x.Btime)
	}
	return nil
}

func timespec(t unix.StatxTimestamp) syscall.Timespec {
	return syscall.Timespec{Sec: t.Sec, Nsec: int64(t.Nsec)}
}

func isReg(mode uint32) bool { return mode&syscall.S_IFMT == syscall.S_IFREG }

// stableAttr gives a backing file its FUSE identity, as go-fuse's loopback
// does: the backing inode number with the device mixed in (masked out for
// CipherDir's own device, so inode numbers look like the backing ones), and
// the birth time as generation.
func (r *root) stableAttr(st *stat) gofs.StableAttr {
	swap := func(d uint64) uint64 { return d<<32 | d>>32 }
	gen := uint64(1)
	if st.btime.Sec != 0 || st.btime.Nsec != 0 {
		gen = uint64(st.btime.Sec)*1e9 + uint64(st.btime.Nsec)
	}
	return gofs.StableAttr{
		Mode: st.Mode & syscall.S_IFMT,
		Gen:  gen,
		Ino:  swap(uint64(st.Dev)) ^ swap(r.dev) ^ st.Ino,
	}
}

// fillAttr sets out from the backing stat, a regular file's size in
// plaintext bytes and a symlink's the length of its plaintext target.
// path is the plaintext path, for logs.
func (r *root) fillAttr(st *stat, path string, out *fuse.Attr) {
	out.FromStat(&st.Stat_t)
	switch st.Mode & syscall.S_IFMT {
	case syscall.S_IFREG:
		out.Size = uint64(r.plainSize(&st.Stat_t, path))
	case syscall.S_IFLNK:
		out.Size = uint64(r.linkSize(st.Size))
	}
}

// lstatStable stats the backing file at path so that it never sees the
// moment between a header write and the mtime restore after it
// (keepMtime, and rewrapBacking under a reservation). key is the file's
// backing inode when known; else the first stat finds it.
//
// Every such header write runs while the file has an entry in the open
// table (an open state or a reservation, openTable.hold) whose lock it
// holds exclusively. So a stat is kept when the file had no entry
// throughout (none found, and the table's removal count did not move
// while it ran), or when it ran under the read lock of the entry that was
// still the file's entry afterwards (entries never come back once
// removed, so it was the entry throughout). Otherwise an entry came or
// went meanwhile, and it stats again. A file without an entry, the common
// case, costs one stat.
func (r *root) lstatStable(path string, key fileKey, st *stat) error {
	return r.lstatStableAt(unix.AT_FDCWD, path, key, st)
}

// lstatStableAt is lstatStable of name relative to the directory dirfd.
func (r *root) lstatStableAt(dirfd int, name string, key fileKey, st *stat) error {
	var err error
	for range maxStableTries {
		removals := r.files.removals.Load()
		if key == (fileKey{}) {
			if err = statx(dirfd, name, unix.AT_SYMLINK_NOFOLLOW, st); err != nil || !isReg(st.Mode) {
				return err
			}
			key = keyOf(&st.Stat_t)
			if r.files.find(key) == nil && r.files.removals.Load() == removals {
				return nil
			}
		}
		of := r.files.find(key)
		if of == nil {
			if err = statx(dirfd, name, unix.AT_SYMLINK_NOFOLLOW, st); err != nil {
				return err
			}
			if r.files.find(key) == nil && r.files.removals.Load() == removals {
				return nil
			}
			continue
		}
		of.mu.RLock()
		err = statx(dirfd, name, unix.AT_SYMLINK_NOFOLLOW, st)
		current := r.files.find(key) == of
		of.mu.RUnlock()
		if err != nil || current {
			return err
		}
	}
	return err // entries kept coming and going: the last stat, best effort
}

// maxStableTries bounds lstatStable's retries while open states or
// rewraps of one file come and go without pause.
const maxStableTries = 64
