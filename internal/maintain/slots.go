package maintain

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kmsfs/kmsfs/envelope"
)

// Header slot problems (FORMAT.md §4: two slots, the higher generation
// current, the other its mirror or the state before it).
var (
	// ErrCurrentSlotFailed reports a header whose newest slot fails
	// authentication while the older one opens: every reader silently
	// falls back to the older slot, whose lower size floor can hide a
	// truncation. It is damage (or a write torn by a power loss).
	ErrCurrentSlotFailed = errors.New("maintain: the newest header slot fails authentication; readers fall back to the older slot")
	// ErrMirrorSlotDamaged reports a header whose current slot opens but
	// whose other, non-empty slot does not parse or authenticate: the file
	// has lost its second copy of the wrapped data key.
	ErrMirrorSlotDamaged = errors.New("maintain: the older header slot is damaged")
)

// slotOffset is where header slot pos (0 = A, 1 = B) starts (FORMAT.md §3).
func slotOffset(pos int) int { return envelope.PreambleSize + pos*envelope.SlotSize }

func slotName(pos int) string { return string(rune('A' + pos)) }

// checkSlots authenticates each header slot of f on its own, which a
// reader never does (it stops at the first that opens). It returns nil
// when the header does not load at all: Verify reports that.
func (c *Checker) checkSlots(ctx context.Context, f *os.File) (*envelope.Header, error) {
	raw := make([]byte, envelope.HeaderSize)
	if _, err := f.ReadAt(raw, 0); err != nil {
		return nil, nil
	}
	pre, err := envelope.ParsePreamble(raw[:envelope.PreambleSize])
	if err != nil {
		return nil, nil
	}
	h, err := envelope.ReadHeader(ctx, f, c.keys)
	if err != nil {
		return nil, nil
	}
	other := 1 - h.Slot
	ob := raw[slotOffset(other) : slotOffset(other)+envelope.SlotSize]
	if isZero(ob) {
		return h, nil // a file written once has one slot
	}
	s, err := envelope.ParseSlotKind(pre.Kind(), ob)
	switch {
	case err != nil:
		return h, fmt.Errorf("%w: slot %s does not parse", ErrMirrorSlotDamaged, slotName(other))
	case s.Generation > h.Generation:
		return h, fmt.Errorf("%w: slot %s (generation %d, size floor %d) fails, slot %s (generation %d, size floor %d) is used",
			ErrCurrentSlotFailed, slotName(other), s.Generation, s.CommittedSize, slotName(h.Slot), h.Generation, h.CommittedSize)
	}
	lone := bytes.Clone(raw)
	clear(lone[slotOffset(h.Slot) : slotOffset(h.Slot)+envelope.SlotSize])
	_, err = envelope.ReadHeader(ctx, &memHeader{b: lone}, c.keys)
	if errors.Is(err, envelope.ErrUnauthenticated) || errors.Is(err, envelope.ErrBadHeader) {
		return h, fmt.Errorf("%w: slot %s (generation %d) fails authentication", ErrMirrorSlotDamaged, slotName(other), s.Generation)
	}
	// Any other failure (a retired key version the older slot names) is
	// not damage.
	return h, nil
}

// repairSlots rewrites both header slots of rel from the one that opens:
// envelope.RewrapFile writes a fresh slot over the damaged one, syncs, then
// mirrors it (FORMAT.md §4.5). The DEK is wrapped under the newest version
// of the header's key, as a rewrap would. The mtime is put back: the
// plaintext did not change.
func (c *Checker) repairSlots(ctx context.Context, rel string, h *envelope.Header) error {
	f, err := c.root.open(rel, os.O_RDWR)
	if err != nil {
		return err
	}
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return fmt.Errorf("maintain: stat: %w", err)
	}
	ks := c.repair(keyUUID(h.KeyRef))
	if _, _, _, err := envelope.RewrapFile(ctx, f, ks, ks, false); err != nil {
		return err
	}
	if err := restoreTimes(f, &st); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("maintain: syncing %s: %w", rel, err)
	}
	if _, err := c.checkSlots(ctx, f); err != nil {
		return fmt.Errorf("maintain: still damaged after the repair: %w", err)
	}
	return nil
}

// memHeader is a read-only envelope.Backing over a header in memory, so
// that one slot can be authenticated alone.
type memHeader struct{ b []byte }

func (m *memHeader) ReadAt(p []byte, off int64) (int, error) {
	return bytes.NewReader(m.b).ReadAt(p, off)
}

func (m *memHeader) WriteAt([]byte, int64) (int, error) { return 0, errReadOnly }
func (m *memHeader) Truncate(int64) error               { return errReadOnly }
func (m *memHeader) Sync() error                        { return nil }
func (m *memHeader) Stat() (os.FileInfo, error)         { return memInfo(len(m.b)), nil }

var errReadOnly = errors.New("maintain: internal error: header copy is read-only")

// memInfo is the FileInfo of a memHeader: only its size matters.
type memInfo int64

func (m memInfo) Name() string       { return "header" }
func (m memInfo) Size() int64        { return int64(m) }
func (m memInfo) Mode() fs.FileMode  { return 0o400 }
func (m memInfo) ModTime() time.Time { return time.Time{} }
func (m memInfo) IsDir() bool        { return false }
func (m memInfo) Sys() any           { return nil }
