package fs

import (
	"context"
	"errors"
	"io"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"

	"github.com/kmsfs/kmsfs/envelope"
)

// handle is one open(2) of a regular file. All handles of an inode share
// one openFile.
type handle struct {
	n      *node
	of     *openFile
	append bool // O_APPEND, kept here: the backing file is opened without it
	direct bool // O_DIRECT: opened with FOPEN_DIRECT_IO (directFlags)
}

var (
	_ = (gofs.FileReader)((*handle)(nil))
	_ = (gofs.FileWriter)((*handle)(nil))
	_ = (gofs.FileFlusher)((*handle)(nil))
	_ = (gofs.FileFsyncer)((*handle)(nil))
	_ = (gofs.FileReleaser)((*handle)(nil))
	_ = (gofs.FileAllocater)((*handle)(nil))
	_ = (gofs.FileLseeker)((*handle)(nil))
	_ = (gofs.FileGetattrer)((*handle)(nil))
)

// plain returns the handle's plaintext path for logs.
func (h *handle) plain() string {
	p, _, errno := h.n.paths()
	if errno != 0 {
		return "(unlinked)"
	}
	return p
}

// Read decrypts into the kernel's own request buffer (no allocation). Any
// error fails the whole request: a short read would make the kernel think
// the file ends there.
func (h *handle) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	n, err := h.of.ef.ReadAt(dest, off)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, h.readFailed(err)
	}
	return fuse.ReadResultData(dest[:n]), 0
}

// readFailed maps a failed read to its errno. A read reaching the end of a
// short file (envelope.File.Truncation) is logged once per file, not at
// every read: programs retry, and the cause stays the same until a write
// settles the file.
func (h *handle) readFailed(err error) syscall.Errno {
	short := h.of.ef.Truncation()
	if short == nil || !errors.Is(err, envelope.ErrTruncated) || errors.Is(err, envelope.ErrUnauthenticated) {
		return h.n.r.fail(err, h.plain())
	}
	if p := h.plain(); h.n.r.warned.first("short:" + p) {
		h.n.r.log.Warn("kmsfs: file is shorter than its committed size; reads past the data present fail", "path", p, "err", short)
	}
	return syscall.EIO
}

// Write encrypts data at off. An O_APPEND handle writes at the plaintext
// size, under the file's exclusive lock, so concurrent appenders never
// overwrite each other. The exception is a write below the size: go-fuse
// does not tell page-cache writeback (mmap) apart, and the kernel may send
// it on any writable handle, so it is written where the kernel says.
//
// Every write clears the set-ID bits first (openFile.dropPrivs): the mount
// takes that duty from the kernel (capHandleKillprivV2).
func (h *handle) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	if err := h.of.dropPrivs(); err != nil {
		return 0, h.n.r.fail(err, h.plain())
	}
	if h.append {
		h.of.mu.Lock()
		defer h.of.mu.Unlock()
		if size := h.of.ef.Size(); off >= size {
			off = size
		}
	} else {
		h.of.mu.RLock()
		defer h.of.mu.RUnlock()
	}
	h.of.written.Store(true)
	n, err := h.of.ef.WriteAtFloor(data, off)
	if err != nil {
		return uint32(n), h.n.r.fail(err, h.plain())
	}
	return uint32(n), 0
}

// Flush runs at every close(2) of a descriptor: it commits the size floor
// to the header if the file grew (envelope.File.Flush), so that the
// header write happens before close returns rather than at the
// asynchronous release, and keeps the mtime of the last data write. Data
// writes need no flushing: they reach the backing file before returning.
// A file whose floor is already committed (a small file written once,
// envelope.File.WriteAtFloor) costs no backing call here.
func (h *handle) Flush(ctx context.Context) syscall.Errno {
	if !h.of.written.Swap(false) {
		return 0
	}
	h.of.mu.Lock()
	defer h.of.mu.Unlock()
	if err := h.of.commit(h.of.ef.Flush); err != nil {
		return h.n.r.fail(err, h.plain())
	}
	return 0
}

// Fsync syncs the backing file (fdatasync is served by a full fsync),
// keeping the mtime if the sync commits the size floor.
func (h *handle) Fsync(ctx context.Context, flags uint32) syscall.Errno {
	h.of.mu.Lock()
	defer h.of.mu.Unlock()
	if err := h.of.commit(h.of.ef.Sync); err != nil {
		return h.n.r.fail(err, h.plain())
	}
	return 0
}

// Release drops the handle's reference to the shared state.
func (h *handle) Release(ctx context.Context) syscall.Errno {
	h.n.r.release(h.of, h.plain())
	return 0
}

// Getattr stats the backing descriptor, with the live plaintext size.
func (h *handle) Getattr(ctx context.Context, out *fuse.AttrOut) syscall.Errno {
	return h.getattr(out)
}

func (h *handle) getattr(out *fuse.AttrOut) syscall.Errno {
	h.of.mu.RLock()
	defer h.of.mu.RUnlock()
	var st stat
	err := h.of.b.withFd(func(fd int) error { return fstatFd(fd, &st) })
	if err != nil {
		return h.n.r.fail(err, h.plain())
	}
	out.FromStat(&st.Stat_t)
	out.Size = uint64(h.of.ef.Size())
	return 0
}

// ensureWritable makes the shared backing descriptor read-write.
func (h *handle) ensureWritable() syscall.Errno {
	if err := h.of.b.upgrade(); err != nil {
		return h.n.r.fail(err, h.plain())
	}
	return 0
}

// truncate sets the plaintext size.
func (h *handle) truncate(size int64) syscall.Errno {
	h.of.mu.Lock()
	defer h.of.mu.Unlock()
	h.of.written.Store(true)
	if err := h.of.ef.Truncate(size); err != nil {
		return h.n.r.fail(err, h.plain())
	}
	return 0
}

// Allocate supports mode 0 (grow the plaintext size to off+size, zeros)
// and FALLOC_FL_KEEP_SIZE (reserve space only). Both reserve the
// ciphertext range on the backing filesystem when it can. Punching holes,
// zeroing or collapsing ranges would need chunk rewrites: EOPNOTSUPP.
func (h *handle) Allocate(ctx context.Context, off uint64, size uint64, mode uint32) syscall.Errno {
	if mode&^unix.FALLOC_FL_KEEP_SIZE != 0 {
		return syscall.EOPNOTSUPP
	}
	end := int64(off + size)
	if end < 0 || int64(off) < 0 {
		return syscall.EFBIG
	}
	// The kernel leaves clearing set-ID bits to the server here too
	// (capHandleKillprivV2), with no flag in the request.
	if err := h.of.dropPrivs(); err != nil {
		return h.n.r.fail(err, h.plain())
	}
	h.of.mu.Lock()
	defer h.of.mu.Unlock()
	h.of.written.Store(true)
	cur := h.of.ef.Size()
	start := min(int64(off), cur)
	err := h.of.b.reserve(h.cipherOff(start), h.cipherOff(end)-h.cipherOff(start))
	if err == nil && mode == 0 && end > cur {
		err = h.of.ef.Truncate(end)
	}
	if err != nil {
		return h.n.r.fail(err, h.plain())
	}
	return 0
}

// cipherOff returns the ciphertext size of a plaintext of off bytes: the
// backing offset up to which plaintext [0, off) is stored.
func (h *handle) cipherOff(off int64) int64 {
	return envelope.CiphertextSize(off, h.n.r.chunk)
}

// Lseek serves SEEK_DATA and SEEK_HOLE on plaintext offsets: a kmsfs file
// is all data, with one hole at its end. (The kernel serves the other
// whence values itself.)
func (h *handle) Lseek(ctx context.Context, off uint64, whence uint32) (uint64, syscall.Errno) {
	size := uint64(h.of.ef.Size())
	switch whence {
	case unix.SEEK_DATA:
		if off >= size {
			return 0, syscall.ENXIO
		}
		return off, 0
	case unix.SEEK_HOLE:
		if off >= size {
			return 0, syscall.ENXIO
		}
		return size, 0
	}
	return 0, syscall.EINVAL
}
