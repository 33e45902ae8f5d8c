package maintain

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/kmsfs/kmsfs/envelope"
	"github.com/kmsfs/kmsfs/keyring"
)

// ErrBehind reports a file whose DEK is still wrapped under a key version
// below the one about to become the minimum: retiring that version would
// make the file unreadable until it is rewrapped.
var ErrBehind = errors.New("maintain: wrapped under a key version below the minimum")

// VersionScan finds the files of one CIPHERDIR whose current header slot
// names key at a version below min.
type VersionScan struct {
	root *treeRoot
	keys envelope.KeyUnwrapper
	key  [envelope.KeyIDSize]byte
	min  uint32
}

// NewVersionScan returns a scan of the tree at cipherDir. Close it when
// done.
func NewVersionScan(cipherDir string, keys envelope.KeyUnwrapper, key [envelope.KeyIDSize]byte, min uint32) (*VersionScan, error) {
	root, err := openTreeRoot(cipherDir)
	if err != nil {
		return nil, err
	}
	return &VersionScan{root: root, keys: keys, key: key, min: min}, nil
}

// Close releases the CIPHERDIR.
func (s *VersionScan) Close() error { return s.root.Close() }

// Task returns the [Task] that fails with ErrBehind for each file behind,
// and with the reason for each file it cannot tell about (unreadable
// header): both must block retiring a version unless forced.
func (s *VersionScan) Task() Task {
	return func(ctx context.Context, e Entry, _ *Meter) (Outcome, error) {
		if e.Kind != KindFile {
			return Skipped, nil
		}
		return Current, s.check(ctx, e.Rel)
	}
}

// check reads the header structurally; only a file with a slot under key
// below min costs an unwrap, to learn which slot is current (only the
// MAC can tell: FORMAT.md, "Reading the header"). After a rewrap the
// older slot still names the old version, so looking at slots alone
// would flag every rewrapped file.
func (s *VersionScan) check(ctx context.Context, rel string) error {
	f, err := s.root.open(rel, os.O_RDONLY)
	if err != nil {
		return err
	}
	defer f.Close()
	refs, err := envelope.ReadSlotRefs(f)
	if errors.Is(err, envelope.ErrNoHeader) {
		return nil
	}
	if err != nil {
		return err
	}
	if !s.maybeBehind(refs) {
		return nil
	}
	h, err := envelope.ReadHeader(ctx, f, s.keys)
	if errors.Is(err, keyring.ErrVersionRetired) {
		return fmt.Errorf("%w: current slot's version is already retired: %w", ErrBehind, err)
	}
	if err != nil {
		return err
	}
	if h.KeyRef.KeyID == s.key && h.KeyRef.Version < s.min {
		return fmt.Errorf("%w: %v", ErrBehind, h.KeyRef)
	}
	return nil
}

func (s *VersionScan) maybeBehind(refs envelope.SlotRefs) bool {
	for _, r := range refs.All {
		if r.KeyID == s.key && r.Version < s.min {
			return true
		}
	}
	return false
}
