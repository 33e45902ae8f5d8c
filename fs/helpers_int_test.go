package fs

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"syscall"
	"testing"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/kmsfs/kmsfs/envelope"
	"github.com/kmsfs/kmsfs/internal/names"
	"github.com/kmsfs/kmsfs/internal/testkms"
	"github.com/kmsfs/kmsfs/internal/testutil"
)

// requireFUSE skips t when /dev/fuse is unusable, or fails it when
// KMSFS_REQUIRE_FUSE=1.
func requireFUSE(t testing.TB) {
	t.Helper()
	testutil.RequireFUSE(t)
}

// logBuf collects log output safely across goroutines.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// testMount is one mounted volume.
type testMount struct {
	mnt    string // the mount point
	cipher string // CipherDir
	keys   *testkms.Service
	logs   *logBuf
	chunk  int
	root   *root
	names  nameCodec    // if set, replaces the identity codec before mounting
	codec  *names.Codec // the encrypted-names codec; nil with plaintext names
}

// mountOpt adjusts the Options of a test mount.
type mountOpt func(*Options)

// plainNames mounts with plaintext names (kmsfs init --plaintext-names).
func plainNames(o *Options) { o.Names = nil }

// nameModes are the two ways a volume stores names, for tests that run
// in both.
var nameModes = []struct {
	name string
	opt  mountOpt
}{
	{"names=encrypted", func(*Options) {}},
	{"names=plaintext", plainNames},
}

// newTestCodec returns an encrypted-names codec under a random name key,
// closed when t ends.
func newTestCodec(t testing.TB) *names.Codec {
	t.Helper()
	key := make([]byte, names.KeySize)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	c, err := names.NewCodec(key)
	clear(key)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// newTestMount mounts a fresh volume in t.TempDir() and unmounts it when
// t ends. Names are encrypted, as on a new volume, unless an option
// (plainNames) says otherwise.
func newTestMount(t testing.TB, opts ...mountOpt) *testMount {
	t.Helper()
	requireFUSE(t)
	dir := t.TempDir()
	tm := &testMount{mnt: filepath.Join(dir, "mnt"), cipher: filepath.Join(dir, "cipher"), keys: testkms.NewFixed(), logs: &logBuf{}}
	for _, d := range []string{tm.mnt, tm.cipher} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	o := Options{
		CipherDir: tm.cipher, Keys: tm.keys, ChunkSize: envelope.MinChunkSize,
		Logger:        slog.New(slog.NewTextHandler(tm.logs, &slog.HandlerOptions{Level: slog.LevelWarn})),
		ReservedNames: []string{"kmsfs.conf"},
		Names:         newTestCodec(t),
	}
	for _, f := range opts {
		f(&o)
	}
	if o.Names != nil {
		// What kmsfs init does: the root's IV file.
		iv, err := names.NewDirIV()
		if err != nil {
			t.Fatal(err)
		}
		if err := names.WriteDirIV(tm.cipher, iv); err != nil {
			t.Fatal(err)
		}
	}
	tm.chunk = o.chunkSize()
	tm.mountWith(t, o)
	return tm
}

// options returns the Options of another mount of tm's volume (same
// CipherDir, keys, chunk size and names).
func (tm *testMount) options() Options {
	return Options{CipherDir: tm.cipher, Keys: tm.keys, ChunkSize: tm.chunk, Names: tm.codec}
}

// remount mounts tm's volume a second time, at a new mount point, with
// cold caches and no open state.
func (tm *testMount) remount(t testing.TB) *testMount {
	t.Helper()
	tm2 := &testMount{mnt: t.TempDir(), cipher: tm.cipher, keys: tm.keys, logs: &logBuf{}, chunk: tm.chunk}
	o := tm.options()
	o.Logger = slog.New(slog.NewTextHandler(tm2.logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	tm2.mountWith(t, o)
	return tm2
}

// newTestMountNames is newTestMount with a name codec.
func newTestMountNames(t testing.TB, names nameCodec) *testMount {
	t.Helper()
	requireFUSE(t)
	dir := t.TempDir()
	tm := &testMount{mnt: filepath.Join(dir, "mnt"), cipher: filepath.Join(dir, "cipher"), keys: testkms.NewFixed(), logs: &logBuf{}, names: names}
	for _, d := range []string{tm.mnt, tm.cipher} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	o := Options{
		CipherDir: tm.cipher, Keys: tm.keys, ChunkSize: envelope.MinChunkSize,
		Logger: slog.New(slog.NewTextHandler(tm.logs, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	tm.chunk = o.chunkSize()
	tm.mountWith(t, o)
	return tm
}

func (tm *testMount) mountWith(t testing.TB, o Options) {
	t.Helper()
	root, err := NewRoot(o)
	if err != nil {
		t.Fatal(err)
	}
	tm.root = root.(*node).r
	tm.codec = o.Names
	if tm.names != nil {
		tm.root.names = tm.names
	}
	fo := fuseOptions(&o)
	fo.PanicHandler = func(v any) fuse.Status {
		t.Errorf("panic in a FUSE handler: %v\n%s", v, debug.Stack())
		return fuse.EIO
	}
	srv, err := gofs.Mount(tm.mnt, root, fo)
	if err != nil {
		t.Fatalf("mount: %v", err)
	}
	afterMount(tm.mnt, &o)
	t.Cleanup(func() {
		if err := srv.Unmount(); err != nil {
			t.Errorf("unmount: %v", err)
		}
	})
}

// path returns the mount path of a plaintext name.
func (tm *testMount) path(name string) string { return filepath.Join(tm.mnt, name) }

// cpath returns the CipherDir path of a plaintext path relative to the
// mount (which need not exist yet), encrypting each name as the mount does.
func (tm *testMount) cpath(t testing.TB, name string) string {
	t.Helper()
	if tm.codec == nil {
		return filepath.Join(tm.cipher, name)
	}
	rel, err := names.NewTree(tm.codec, tm.cipher).CipherPath(name)
	if err != nil {
		t.Fatalf("cipher path of %s: %v", name, err)
	}
	return filepath.Join(tm.cipher, rel)
}

// plaintext returns n recognizable bytes: a marker that must never show up
// in ciphertext, with a counter so chunks differ.
func plaintext(n int) []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "kmsfs-plaintext-marker-%08d|", i)
	}
	return b.Bytes()[:n]
}

// noWarnings fails t if anything was logged.
func (tm *testMount) noWarnings(t testing.TB) {
	t.Helper()
	if s := tm.logs.String(); s != "" {
		t.Errorf("unexpected log output:\n%s", s)
	}
}

// errnoIs reports whether err carries errno want.
func errnoIs(err error, want syscall.Errno) bool {
	var en syscall.Errno
	return errors.As(err, &en) && en == want
}

// waitReleased waits until the mount holds no open file. The kernel sends
// FUSE RELEASE asynchronously after close(2) returns and signals nothing
// when it is done, so this polls; tests that modify CipherDir behind the
// mount's back need it so that the mount's own header commit at release
// cannot race with them.
func (tm *testMount) waitReleased(t testing.TB) {
	t.Helper()
	if err := tm.released(); err != nil {
		t.Fatal(err)
	}
}

// released is waitReleased for a goroutine that may not fail the test.
func (tm *testMount) released() error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		tm.root.files.mu.Lock()
		n := len(tm.root.files.files)
		tm.root.files.mu.Unlock()
		if n == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d files still open after 10s", n)
		}
		time.Sleep(time.Millisecond)
	}
}
