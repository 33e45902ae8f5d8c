package fs

import (
	"errors"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/kmsfs/kmsfs/envelope"
)

// backing is the descriptor of a backing file that an envelope.File reads
// and writes. It implements envelope.Backing and envelope.Preallocator.
//
// Its descriptor can be upgraded from read-only to read-write in place,
// because all handles of one inode share it: a file first opened for
// reading must become writable when a writer opens it too.
type backing struct {
	mu       sync.RWMutex // guards f against upgrade while in use
	f        *os.File
	writable bool
	// opened is the stat taken right after the open, until the first Stat
	// (envelope's size check when it opens the file) takes it instead of
	// a second fstat: the file is not shared before that.
	opened atomic.Pointer[stat]
	// end is the backing file's size as our own writes and truncates left
	// it, for Preallocate.
	end atomic.Int64
}

var (
	_ envelope.Backing      = (*backing)(nil)
	_ envelope.Preallocator = (*backing)(nil)
)

// newBacking wraps f, just opened and statted as st.
func newBacking(f *os.File, writable bool, st *stat) *backing {
	b := &backing{f: f, writable: writable}
	cp := *st
	b.opened.Store(&cp)
	b.end.Store(st.Size)
	return b
}

func (b *backing) ReadAt(p []byte, off int64) (int, error) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.f.ReadAt(p, off)
}

func (b *backing) WriteAt(p []byte, off int64) (int, error) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	n, err := b.f.WriteAt(p, off)
	for end := off + int64(n); n > 0; {
		cur := b.end.Load()
		if end <= cur || b.end.CompareAndSwap(cur, end) {
			break
		}
	}
	return n, err
}

func (b *backing) Truncate(size int64) error {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if err := b.f.Truncate(size); err != nil {
		return err
	}
	b.end.Store(size)
	return nil
}

func (b *backing) Sync() error {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.f.Sync()
}

func (b *backing) Stat() (os.FileInfo, error) {
	if st := b.opened.Swap(nil); st != nil {
		return statInfo{*st}, nil
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.f.Stat()
}

// statInfo is the os.FileInfo of a regular backing file from a stat taken
// earlier (backing.opened). Its mode holds the permission bits only.
type statInfo struct{ st stat }

func (i statInfo) Name() string       { return "" }
func (i statInfo) Size() int64        { return i.st.Size }
func (i statInfo) Mode() os.FileMode  { return os.FileMode(i.st.Mode & 0o777) }
func (i statInfo) ModTime() time.Time { return time.Unix(i.st.Mtim.Unix()) }
func (i statInfo) IsDir() bool        { return false }
func (i statInfo) Sys() any           { return &i.st.Stat_t }

// Preallocate reserves [off, off+n) when it starts inside the backing
// file, so that a full disk fails a write with ENOSPC before it overwrites
// any chunk in place (envelope.Preallocator); the whole range, because a
// write that rewrites the partial last chunk and grows the file would
// otherwise run out of space after tearing that chunk. A range that
// starts at or past the end overwrites nothing: envelope cuts a failed
// write there back to the old size (FORMAT.md §9), so reserving it would
// cost a fallocate per appending write and save nothing.
func (b *backing) Preallocate(off, n int64) error {
	if off >= b.end.Load() {
		return nil
	}
	return b.reserve(off, n)
}

// restat drops the stat taken at open and takes the backing file's size
// and mode afresh into st: for a backing that another open state of the
// inode may have written between that stat and this one's creation.
func (b *backing) restat(st *stat) error {
	b.opened.Store(nil)
	if err := b.withFd(func(fd int) error { return fstatFd(fd, st) }); err != nil {
		return err
	}
	b.end.Store(st.Size)
	return nil
}

// reserve reserves [off, off+n) of the backing file without changing its
// size. Filesystems without fallocate skip it.
func (b *backing) reserve(off, n int64) error {
	if n <= 0 {
		return nil
	}
	err := b.withFd(func(fd int) error {
		return unix.Fallocate(fd, unix.FALLOC_FL_KEEP_SIZE, off, n)
	})
	if errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOSYS) {
		return nil
	}
	return err
}

// withFd runs fn on the raw descriptor, which stays valid meanwhile.
func (b *backing) withFd(fn func(fd int) error) error {
	b.mu.RLock()
	defer b.mu.RUnlock()
	sc, err := b.f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := sc.Control(func(fd uintptr) { ferr = fn(int(fd)) }); err != nil {
		return err
	}
	return ferr
}

// upgrade makes b read-write, reopening the same inode through /proc (so
// it works after the file was renamed or unlinked).
func (b *backing) upgrade() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.writable {
		return nil
	}
	sc, err := b.f.SyscallConn()
	if err != nil {
		return err
	}
	var f *os.File
	cerr := sc.Control(func(fd uintptr) {
		f, err = os.OpenFile("/proc/self/fd/"+strconv.Itoa(int(fd)), os.O_RDWR|syscall.O_CLOEXEC, 0)
	})
	if cerr != nil {
		return cerr
	}
	if err != nil {
		return err
	}
	old := b.f
	b.f, b.writable = f, true
	return old.Close()
}

func (b *backing) close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.f.Close()
}

// openFile is the state shared by every handle on one backing inode: one
// envelope.File (one data key) over one backing descriptor.
type openFile struct {
	key     fileKey
	refs    int           // guarded by openTable.mu
	closing bool          // guarded by openTable.mu: the last reference is gone
	ready   chan struct{} // closed once ef or err is set
	closed  chan struct{} // closed once the state is closed and out of the table
	ef      *envelope.File
	err     error
	b       *backing
	// mu is held shared by ordinary writes and exclusively by appends, size
	// changes and syncs, so that "write at the current size" is atomic and
	// a sync sees no concurrent write.
	mu sync.RWMutex
	// written is set by every change of contents or size, and cleared by
	// Flush: a close(2) after mere reads has nothing to commit.
	written atomic.Bool
	// privs is set while the backing file's mode may hold bits a write
	// must clear (hasPrivs). The mount leaves that to the server
	// (capHandleKillprivV2), in a request flag go-fuse does not pass on:
	// every write clears them with dropPrivs.
	privs atomic.Bool
}

// hasPrivs reports whether a write must clear bits of mode: set-user-ID,
// and set-group-ID if group execute is set (set-group-ID alone marks
// mandatory locking), as the kernel does (should_remove_suid).
func hasPrivs(mode uint32) bool { return privBits(mode) != 0 }

func privBits(mode uint32) uint32 {
	bits := mode & syscall.S_ISUID
	if mode&(syscall.S_ISGID|syscall.S_IXGRP) == syscall.S_ISGID|syscall.S_IXGRP {
		bits |= syscall.S_ISGID
	}
	return bits
}

// dropPrivs clears the set-user-ID and set-group-ID bits of the backing
// file before a write or a truncation, if it may have them. Unlike the
// kernel it does so for every writer, also one with CAP_FSETID: the FUSE
// request flag that would say which is not visible here.
func (of *openFile) dropPrivs() error {
	if !of.privs.Load() {
		return nil
	}
	return of.b.withFd(func(fd int) error {
		var st stat
		if err := fstatFd(fd, &st); err != nil {
			return err
		}
		if bits := privBits(st.Mode); bits != 0 {
			if err := unix.Fchmod(fd, st.Mode&07777&^bits); err != nil {
				return err
			}
		}
		of.privs.Store(false)
		return nil
	})
}

// isReady reports whether of finished opening, without waiting.
func (of *openFile) isReady() bool {
	select {
	case <-of.ready:
		return true
	default:
		return false
	}
}

// keepMtime runs fn, which may rewrite the header but no data (the caller
// holds mu exclusively or is the last user), and restores the backing mtime
// if fn changed it: the plaintext did not change, so neither may its mtime.
// (envelope commits the size floor to the header at Sync and Close; Close
// runs at the asynchronous FUSE release, after close(2) returned.)
func (of *openFile) keepMtime(fn func() error) error {
	var before, after stat
	if of.b.withFd(func(fd int) error { return fstatFd(fd, &before) }) != nil {
		return fn()
	}
	err := fn()
	_ = of.b.withFd(func(fd int) error {
		if fstatFd(fd, &after) != nil || after.Mtim == before.Mtim {
			return nil
		}
		return futimens(fd, &[2]unix.Timespec{{Nsec: unix.UTIME_OMIT}, unix.Timespec(before.Mtim)})
	})
	return err
}

// commit runs fn, ef's Flush, Sync or Close, keeping the mtime around it
// when it will write the header: only while the size floor is behind the
// size (envelope.File.Uncommitted). A file whose floor is committed (a
// small file written once, envelope.File.WriteAtFloor) costs no stat and
// no utimensat. The caller holds mu exclusively or is the last user.
func (of *openFile) commit(fn func() error) error {
	if !of.ef.Uncommitted() {
		return fn()
	}
	return of.keepMtime(fn)
}

// openTable maps backing inodes to their shared open-file state.
type openTable struct {
	mu    sync.Mutex
	files map[fileKey]*openFile
	// removals counts states and reservations taken out of files, so
	// that lstatStable can tell that none came and went while it stat'ed
	// a file it did not know to be open.
	removals atomic.Uint64
}

func newOpenTable() *openTable {
	return &openTable{files: map[fileKey]*openFile{}}
}

// peek returns the open, healthy state of key, or nil. It takes no
// reference: the caller only reads the size.
func (t *openTable) peek(key fileKey) *openFile {
	t.mu.Lock()
	defer t.mu.Unlock()
	if of := t.files[key]; of.usable() {
		return of
	}
	return nil
}

// usable reports whether of is an open, healthy state that is not
// closing. The caller holds the table's lock (closing is guarded by it).
func (of *openFile) usable() bool {
	return of != nil && !of.closing && of.isReady() && of.err == nil
}

// find returns the state of key, even a closing one, without a reference.
func (t *openTable) find(key fileKey) *openFile {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.files[key]
}

// ref returns the state of key with one more reference, or nil.
func (t *openTable) ref(key fileKey) *openFile {
	if of := t.refOrLock(key); of != nil {
		return of
	}
	t.mu.Unlock()
	return nil
}

// refReady returns key's state with one more reference if it is open,
// healthy and not closing, else nil; it never waits.
func (t *openTable) refReady(key fileKey) *openFile {
	t.mu.Lock()
	defer t.mu.Unlock()
	of := t.files[key]
	if !of.usable() {
		return nil
	}
	of.refs++
	return of
}

// add returns the state of key with one more reference, inserting a new
// one over b when there is none; created says which happened. A creator
// must call finish.
func (t *openTable) add(key fileKey, b *backing) (of *openFile, created bool) {
	if of := t.refOrLock(key); of != nil {
		return of, false
	}
	defer t.mu.Unlock()
	of = &openFile{key: key, refs: 1, ready: make(chan struct{}), closed: make(chan struct{}), b: b}
	t.files[key] = of
	return of, true
}

// refOrLock returns key's state with one more reference. It never returns
// a closing state: it waits until that one is gone, so that two
// envelope.Files never work on one backing inode at once. When key has no
// state it returns nil with t.mu held, so the caller can insert one.
func (t *openTable) refOrLock(key fileKey) *openFile {
	for {
		t.mu.Lock()
		of := t.files[key]
		switch {
		case of == nil:
			return nil
		case !of.closing:
			of.refs++
			t.mu.Unlock()
			return of
		}
		t.mu.Unlock()
		<-of.closed
	}
}

// hold returns the state of key with one more reference, like ref; when
// key has none, it reserves key instead until done is called: meanwhile
// opens of the inode wait (as for a closing state) and lstatStable blocks,
// so that the caller can rewrite the backing file's header with no
// envelope.File reading it half-way and no stat seeing the header write's
// mtime before it is put back. Exactly one of of and done is non-nil.
func (t *openTable) hold(key fileKey) (of *openFile, done func()) {
	if of := t.refOrLock(key); of != nil {
		return of, nil
	}
	res := &openFile{key: key, closing: true, closed: make(chan struct{})}
	res.mu.Lock()
	t.files[key] = res
	t.mu.Unlock()
	return nil, func() {
		t.mu.Lock()
		delete(t.files, key)
		t.removals.Add(1)
		t.mu.Unlock()
		close(res.closed)
		res.mu.Unlock()
	}
}

// finish publishes the result of opening of.
func (t *openTable) finish(of *openFile, ef *envelope.File, err error) {
	of.ef, of.err = ef, err
	close(of.ready)
}

// wait waits until of is open and returns its error.
func (t *openTable) wait(of *openFile) error {
	<-of.ready
	return of.err
}

// release drops one reference; the last one closes the state.
func (t *openTable) release(of *openFile) error {
	t.mu.Lock()
	of.refs--
	last := of.refs == 0
	if last {
		of.closing = true
	}
	t.mu.Unlock()
	if !last {
		return nil
	}
	<-of.ready
	var err error
	if of.ef != nil {
		// Close commits the size floor if a write came after the last
		// flush (mmap writeback after close).
		of.mu.Lock()
		err = of.commit(of.ef.Close)
		of.mu.Unlock()
	}
	err = errors.Join(err, of.b.close())
	t.mu.Lock()
	delete(t.files, of.key)
	t.removals.Add(1)
	t.mu.Unlock()
	close(of.closed)
	return err
}

// futimens sets the times of an open file: utimensat(fd, NULL, ts, 0),
// which unlike AT_EMPTY_PATH also works before Linux 5.8.
func futimens(fd int, ts *[2]unix.Timespec) error {
	_, _, e := unix.Syscall6(unix.SYS_UTIMENSAT, uintptr(fd), 0, uintptr(unsafe.Pointer(ts)), 0, 0, 0)
	if e != 0 {
		return e
	}
	return nil
}
