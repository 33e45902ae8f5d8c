package fs

import (
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// DefaultReadAhead is the kernel readahead window of a mount, in bytes,
// unless Options.ReadAhead says otherwise.
//
// The kernel gives every FUSE mount 128 KiB (VM_READAHEAD_PAGES), so a
// sequential reader gets its data in 128 KiB READ requests, each a round
// trip that decrypts eight 16 KiB chunks. With 4 MiB, readahead asks for
// up to 1 MiB per request (the MaxWrite we negotiate caps a request) and
// keeps several in flight, which the server opens on every CPU at once.
// Reading 1 GiB cold with fio (1 MiB requests, ext4 backing, 2 CPUs) went
// from 770–790 MB/s at 128 KiB to 1,140–1,220 MB/s at 4 MiB, and
// 940–1,170 MB/s at 1 MiB. Random reads are unaffected: the kernel
// starts each new readahead small and only grows the window for reads it
// sees to be sequential.
const DefaultReadAhead = 4 << 20

// readAhead returns the effective readahead window; 0 for "keep the
// kernel's".
func (o *Options) readAhead() int {
	switch {
	case o.ReadAhead == 0:
		return DefaultReadAhead
	case o.ReadAhead < 0:
		return 0
	}
	return max(o.ReadAhead, os.Getpagesize()) // the kernel keeps whole pages; 0 turns readahead off
}

// setReadAhead sets the readahead window of the mount at mountpoint, in
// bytes (rounded down to KiB), through the sysfs file of the mount's
// backing device info, which exists per FUSE mount and goes with it at
// unmount. Only root may write it. It stats mountpoint, which the mount
// must already be serving, and refuses anything but a FUSE mount there (a
// path swapped meanwhile must not retune another device).
func setReadAhead(mountpoint string, bytes int) error {
	var sfs unix.Statfs_t
	if err := unix.Statfs(mountpoint, &sfs); err != nil {
		return err
	}
	if sfs.Type != unix.FUSE_SUPER_MAGIC {
		return fmt.Errorf("fs: %s is not a FUSE mount (type %#x)", mountpoint, sfs.Type)
	}
	path, err := readAheadPath(mountpoint)
	if err != nil {
		return err
	}
	return os.WriteFile(path, []byte(strconv.Itoa(bytes>>10)), 0)
}

// readAheadPath returns the sysfs file holding the readahead window, in
// KiB, of the filesystem mounted at mountpoint.
func readAheadPath(mountpoint string) (string, error) {
	var st unix.Stat_t
	if err := unix.Stat(mountpoint, &st); err != nil {
		return "", err
	}
	return fmt.Sprintf("/sys/class/bdi/%d:%d/read_ahead_kb", unix.Major(st.Dev), unix.Minor(st.Dev)), nil
}
