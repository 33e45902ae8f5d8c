package local

import (
	"bufio"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kmsfs/kmsfs/internal/testkeys"
	"github.com/kmsfs/kmsfs/keyring"
	"github.com/kmsfs/kmsfs/keyring/kmsapi"
)

// procStatusKiB reads a "VmRSS"-like field of /proc/self/status in KiB.
func procStatusKiB(t *testing.T, field string) int64 {
	t.Helper()
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Skipf("no /proc/self/status: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Skipf("no %s in /proc/self/status", field)
	return 0
}

// TestKDFLimitOverSocket sends 40 concurrent exports with a wrong keyring
// passphrase through a mount's socket to a keyring whose KDF takes 64 MiB
// (issue 12, item 8): at most two derivations run at once, the others wait
// or are refused with ThrottlingException, RSS stays far below 40 × 64 MiB,
// and it falls back afterwards.
func TestKDFLimitOverSocket(t *testing.T) {
	if testing.Short() {
		t.Skip("runs 40 Argon2id derivations of 64 MiB")
	}
	dir := filepath.Join(t.TempDir(), "keyring")
	kdf := keyring.KDFParams{Time: 1, MemoryKiB: 64 << 10, Threads: 1}
	kr, err := Open(dir, []byte("right"), Options{Create: true, KDF: kdf})
	if err != nil {
		t.Fatal(err)
	}
	defer kr.Close()
	srv, err := kmsapi.ListenUnix(kmsapi.SocketPath(dir), kmsapi.NewHandler(kr, kmsapi.HandlerOptions{}))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	cl, err := kmsapi.Dial(kmsapi.SocketPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()

	kdfGate.mu.Lock()
	kdfGate.peak = 0
	kdfGate.mu.Unlock()
	base := procStatusKiB(t, "VmRSS")
	var peakRSS atomic.Int64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			peakRSS.Store(max(peakRSS.Load(), procStatusKiB(t, "VmRSS")))
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()

	const n = 40
	var wg sync.WaitGroup
	var wrong, throttled atomic.Int32
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := cl.ExportKeyring(t.Context(), &keyring.ExportKeyringInput{
				KeyringPassphrase: []byte("wrong"), Passphrase: []byte("bundle"), KDF: testkeys.KDF})
			switch {
			case errors.Is(err, keyring.ErrWrongPassphrase):
				wrong.Add(1)
			case errors.Is(err, keyring.ErrThrottling):
				throttled.Add(1)
			default:
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(stop)
	<-sampled
	close(errs)
	for err := range errs {
		t.Errorf("export: %v, want ErrWrongPassphrase or ErrThrottling", err)
	}
	kdfGate.mu.Lock()
	peak := kdfGate.peak
	kdfGate.mu.Unlock()
	after := procStatusKiB(t, "VmRSS")
	t.Logf("%d wrong passphrase, %d throttled; KDFs at once: %d; VmRSS base %d MiB, peak %d MiB, after %d MiB",
		wrong.Load(), throttled.Load(), peak, base>>10, peakRSS.Load()>>10, after>>10)
	if peak > maxConcurrentKDFs {
		t.Errorf("%d derivations ran at once, limit %d", peak, maxConcurrentKDFs)
	}
	if wrong.Load() < maxConcurrentKDFs+1 {
		t.Errorf("only %d requests were answered (wrong passphrase); the queue should take some", wrong.Load())
	}
	// Unbounded, 40 × 64 MiB = 2.5 GiB. Bounded: two derivations' worth,
	// plus slack for the race detector and the test's own allocations.
	if d := peakRSS.Load() - base; d > 512<<10 {
		t.Errorf("RSS rose by %d MiB during the burst, want < 512 MiB", d>>10)
	}
	if d := after - base; d > 160<<10 {
		t.Errorf("RSS stayed %d MiB above its start after the burst, want < 160 MiB", d>>10)
	}
}
