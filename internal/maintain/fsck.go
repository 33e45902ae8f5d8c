package maintain

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/kmsfs/kmsfs/envelope"
)

// Problems fsck reports besides envelope's own errors.
var (
	// ErrStray reports a temporary file left by an interrupted kmsfs write
	// (kmsfs.conf.tmp, a re-key temporary). The file it was meant to
	// replace is intact; the stray may be deleted once no kmsfs command
	// runs on the tree.
	ErrStray = errors.New("maintain: stray temporary file of an interrupted kmsfs write")
	// ErrChunkSizeMismatch reports a file whose header's chunk size is not
	// the volume's: its contents decrypt, but the mount computes its size
	// from the volume's chunk size and shows a wrong one.
	ErrChunkSizeMismatch = errors.New("maintain: chunk size differs from the volume's")
)

// Checker verifies the files of one CIPHERDIR for fsck, read-only.
type Checker struct {
	root      *treeRoot
	keys      envelope.KeyUnwrapper
	chunkSize int
	quick     bool
	repair    KeysFor // nil: read-only

	mu       sync.Mutex
	repaired []Failure // cipher paths and what was repaired
}

// NewChecker returns a Checker of the tree at cipherDir, whose volume
// chunk size is chunkSize. With quick set, only headers are checked (they
// parse, unwrap and authenticate, and sizes are consistent); otherwise
// every chunk is authenticated too. Close it when done.
func NewChecker(cipherDir string, keys envelope.KeyUnwrapper, chunkSize int, quick bool) (*Checker, error) {
	root, err := openTreeRoot(cipherDir)
	if err != nil {
		return nil, err
	}
	return &Checker{root: root, keys: keys, chunkSize: chunkSize, quick: quick}, nil
}

// Close releases the CIPHERDIR.
func (c *Checker) Close() error { return c.root.Close() }

// EnableRepair makes the Checker rewrite, with keys, what can be rewritten
// from good data: a damaged header slot from the slot that opens. Nothing
// is deleted. Call it before the run, and only while the tree is not
// mounted (a mount's open files hold header state of their own).
func (c *Checker) EnableRepair(keys KeysFor) { c.repair = keys }

// Repaired returns what the run repaired: each file's cipher path (show it
// through a [Namer]) and the problem it had.
func (c *Checker) Repaired() []Failure {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.repaired)
}

// Task returns the [Task] that checks each entry: regular files with
// CheckFile, strays as problems; kmsfs metadata and special files are
// skipped.
func (c *Checker) Task() Task {
	return func(ctx context.Context, e Entry, m *Meter) (Outcome, error) {
		switch e.Kind {
		case KindStray:
			return Skipped, ErrStray
		case KindFile:
			return c.checkFile(ctx, e.Rel, m)
		}
		return Skipped, nil
	}
}

// CheckFile verifies the ciphertext file at rel (a cipher path) and
// reports the bytes it read to m. An empty file is valid (no header).
// Each header slot is authenticated on its own: a newest slot that fails
// while the older opens is [ErrCurrentSlotFailed], a damaged older slot
// [ErrMirrorSlotDamaged]; with repair enabled both are rewritten.
func (c *Checker) CheckFile(ctx context.Context, rel string, m *Meter) error {
	_, err := c.checkFile(ctx, rel, m)
	return err
}

func (c *Checker) checkFile(ctx context.Context, rel string, m *Meter) (Outcome, error) {
	err := c.checkContents(ctx, rel, m)
	if err != nil && !errors.Is(err, errSlots) {
		return Skipped, err
	}
	if err == nil {
		return Current, nil
	}
	var se *slotError
	errors.As(err, &se)
	if c.repair == nil {
		return Skipped, se.err
	}
	if rerr := c.repairSlots(ctx, rel, se.h); rerr != nil {
		return Skipped, fmt.Errorf("%w; repair failed: %w", se.err, rerr)
	}
	c.mu.Lock()
	c.repaired = append(c.repaired, Failure{Path: rel, Err: se.err})
	c.mu.Unlock()
	return Changed, nil
}

// errSlots marks a slotError, which only checkFile sees.
var errSlots = errors.New("maintain: header slot problem")

// slotError carries a slot problem with the header that opened, for the
// repair.
type slotError struct {
	err error
	h   *envelope.Header
}

func (e *slotError) Error() string        { return e.err.Error() }
func (e *slotError) Is(target error) bool { return target == errSlots }

// checkContents verifies the file: size, chunk size, header, chunks, then
// each slot alone.
func (c *Checker) checkContents(ctx context.Context, rel string, m *Meter) error {
	f, err := c.root.open(rel, os.O_RDONLY)
	if err != nil {
		return err
	}
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return fmt.Errorf("maintain: stat: %w", err)
	}
	switch {
	case st.Size == 0:
		return nil // FORMAT.md, "Empty files"
	case st.Size < envelope.HeaderSize:
		m.Add(st.Size)
		return shortFile(f, st.Size)
	}
	if err := c.checkChunkSize(f); err != nil {
		m.Add(envelope.PreambleSize)
		return err
	}
	err = envelope.Verify(ctx, f, c.keys, c.quick)
	if c.quick {
		m.Add(envelope.HeaderSize)
	} else {
		m.Add(st.Size)
	}
	if err != nil {
		return err
	}
	if h, err := c.checkSlots(ctx, f); err != nil {
		return &slotError{err: err, h: h}
	}
	return nil
}

// shortFile tells a cut header (the file starts like a kmsfs file) from a
// small foreign file.
func shortFile(f *os.File, size int64) error {
	head := make([]byte, min(size, int64(len(envelope.Magic))))
	if _, err := f.ReadAt(head, 0); err != nil {
		return fmt.Errorf("maintain: reading: %w", err)
	}
	if string(head) != envelope.Magic[:len(head)] {
		return fmt.Errorf("%w: %d-byte file", envelope.ErrBadMagic, size)
	}
	return fmt.Errorf("%w: %d-byte file is shorter than the %d-byte header (missing or cut header)", envelope.ErrTruncated, size, envelope.HeaderSize)
}

// checkChunkSize parses the preamble and compares its chunk size with the
// volume's.
func (c *Checker) checkChunkSize(f *os.File) error {
	var raw [envelope.PreambleSize]byte
	if _, err := f.ReadAt(raw[:], 0); err != nil {
		return fmt.Errorf("maintain: reading the preamble: %w", err)
	}
	pre, err := envelope.ParsePreamble(raw[:])
	if err != nil {
		return err
	}
	if int(pre.ChunkSize) != c.chunkSize {
		return fmt.Errorf("%w: %d, volume has %d", ErrChunkSizeMismatch, pre.ChunkSize, c.chunkSize)
	}
	return nil
}
