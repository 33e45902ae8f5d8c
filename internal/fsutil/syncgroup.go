package fsutil

import (
	"fmt"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// SyncGroup makes writes durable for many files with one syncfs(2) of
// their filesystem instead of one fsync(2) per file: group commit. A
// rewrap writes 512 bytes per file and must sync twice (the new slot
// before its mirror, then the mirror), so per-file fsyncs cost far more
// than the rest of the work (on ext4, about 250 µs per file against 40 µs
// for everything else). Callers that wait in [SyncGroup.Sync] at the same
// time share one round; a caller never shares a round that began before
// it called, since that round may have missed its writes.
//
// syncfs reports writeback errors met anywhere on the filesystem since
// the descriptor was opened (Linux 5.8 and later), so a failed round may
// fail callers whose own files were fine; it never lets a failed write
// pass as durable.
type SyncGroup struct {
	fd     int // the tree's root directory, opened for syncfs (an O_PATH descriptor is refused)
	syncfs func(fd int) error

	mu      sync.Mutex
	cond    sync.Cond
	started uint64 // rounds begun
	done    uint64 // rounds finished; rounds run one at a time, in order
	running bool
	waiting int // callers blocked in cond.Wait, for tests
	// failed is the last round that failed, and failErr its error: a
	// caller that waited for round n fails if any round from n on failed,
	// which is conservative when it woke after a later round.
	failed  uint64
	failErr error
}

// NewSyncGroup returns a group for the filesystem that holds dir. Close
// it when done.
func NewSyncGroup(dir string) (*SyncGroup, error) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: dir, Err: err}
	}
	g := &SyncGroup{fd: fd, syncfs: unix.Syncfs}
	g.cond.L = &g.mu
	return g, nil
}

// Close releases the group's descriptor.
func (g *SyncGroup) Close() error { return unix.Close(g.fd) }

// Sync returns once a syncfs that began after the call has finished:
// every write completed before the call is then durable.
func (g *SyncGroup) Sync() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	want := g.started + 1
	for g.done < want {
		if g.running {
			g.waiting++
			g.cond.Wait()
			g.waiting--
			continue
		}
		// Lead a round: it covers every caller waiting now.
		g.running = true
		g.started++
		round := g.started
		g.mu.Unlock()
		err := g.syncfs(g.fd)
		g.mu.Lock()
		g.running = false
		g.done = round
		if err != nil {
			g.failed, g.failErr = round, err
		}
		g.cond.Broadcast()
	}
	if g.failed >= want {
		return fmt.Errorf("syncfs: %w", g.failErr)
	}
	return nil
}

// GroupSynced is a file whose Sync joins a round of its group instead of
// calling fsync.
type GroupSynced struct {
	*os.File
	Group *SyncGroup
}

// Sync waits for a round of the group (see [SyncGroup.Sync]).
func (f GroupSynced) Sync() error { return f.Group.Sync() }
