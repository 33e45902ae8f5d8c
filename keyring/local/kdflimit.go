package local

import (
	"fmt"
	"runtime/debug"
	"sync"

	"github.com/kmsfs/kmsfs/keyring"
	"golang.org/x/crypto/argon2"
)

// Passphrase KDF limits.
//
// Every passphrase check (Open, ExportKeyring and ImportKeyring over a
// socket, bundle sealing and opening) runs Argon2id, which takes its whole
// memory parameter (64 MiB by default, up to the bundle limit) for its
// duration. Unbounded, 40 concurrent wrong-passphrase exports took a mount
// to 2.5 GiB RSS, and the Go runtime kept it (issue 12, item 8). So at most
// maxConcurrentKDFs derivations run at once in a process; up to
// maxQueuedKDFs more wait their turn, and any beyond that are refused at
// once with [keyring.ErrThrottling] (AWS's ThrottlingException, which SDKs
// retry). When a derivation ends, its memory is handed back to the
// operating system (debug.FreeOSMemory, a full collection: milliseconds
// beside the derivation's hundreds), so a burst leaves no lasting
// footprint.
const (
	maxConcurrentKDFs = 2
	maxQueuedKDFs     = 16
)

// kdfLimiter is the process-wide gate of passphrase derivations.
type kdfLimiter struct {
	slots chan struct{}

	mu      sync.Mutex
	waiting int
	running int
	// peak is the highest number of derivations seen running at once;
	// tests read it.
	peak int
}

var kdfGate = &kdfLimiter{slots: make(chan struct{}, maxConcurrentKDFs)}

// acquire waits for a slot, or refuses when too many already wait.
func (l *kdfLimiter) acquire() error {
	select {
	case l.slots <- struct{}{}:
	default:
		l.mu.Lock()
		if l.waiting >= maxQueuedKDFs {
			l.mu.Unlock()
			return fmt.Errorf("%w: %d passphrase checks are running and %d waiting; retry later", keyring.ErrThrottling, maxConcurrentKDFs, maxQueuedKDFs)
		}
		l.waiting++
		l.mu.Unlock()
		l.slots <- struct{}{}
		l.mu.Lock()
		l.waiting--
		l.mu.Unlock()
	}
	l.mu.Lock()
	l.running++
	l.peak = max(l.peak, l.running)
	l.mu.Unlock()
	return nil
}

// release returns the derivation's Argon2id memory to the operating
// system, then frees the slot: without the first, the garbage collector
// lets the heap grow to twice the live derivations' memory before it runs,
// and the runtime keeps the pages after.
func (l *kdfLimiter) release() {
	debug.FreeOSMemory()
	l.mu.Lock()
	l.running--
	l.mu.Unlock()
	<-l.slots
}

// deriveKEK stretches the passphrase, waiting for a KDF slot first; it
// fails only with [keyring.ErrThrottling]. The caller zeroes the result.
func deriveKEK(passphrase, salt []byte, p keyring.KDFParams) ([]byte, error) {
	if err := kdfGate.acquire(); err != nil {
		return nil, err
	}
	defer kdfGate.release()
	return argon2.IDKey(passphrase, salt, p.Time, p.MemoryKiB, p.Threads, kekSize), nil
}
