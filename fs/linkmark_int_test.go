package fs

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// plant makes a symlink in CipherDir behind the mount's back, as someone
// who can write CipherDir would: under the name the mount shows as name
// (encrypted with the directory's IV when names are encrypted), pointing
// at target outside the mount.
func plant(t *testing.T, tm *testMount, name, target string) {
	t.Helper()
	if err := os.Symlink(target, tm.cpath(t, name)); err != nil {
		t.Fatal(err)
	}
}

// outsideEmpty fails t if anything reached dir.
func outsideEmpty(t *testing.T, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		t.Errorf("a write escaped the mount: %s holds %q", e.Name(), b)
	}
}

// TestPlantedSymlinkRefused plants CIPHERDIR/link -> OUTSIDE/victim in
// both name modes and writes through MOUNT/link: readlink, open, create
// and write all fail with EIO, nothing reaches OUTSIDE, and the failure is
// logged with the plaintext path. A symlink made through the mount still
// works.
func TestPlantedSymlinkRefused(t *testing.T) {
	for _, mode := range nameModes {
		t.Run(mode.name, func(t *testing.T) {
			tm := newTestMount(t, mode.opt)
			outside := t.TempDir()
			victim := filepath.Join(outside, "victim")
			if err := os.Symlink("inside", tm.path("mine")); err != nil {
				t.Fatal(err)
			}
			plant(t, tm, "link", victim)

			if _, err := os.Readlink(tm.path("link")); !errnoIs(err, syscall.EIO) {
				t.Errorf("readlink: %v, want EIO", err)
			}
			if err := os.WriteFile(tm.path("link"), []byte("secret plaintext"), 0o644); !errnoIs(err, syscall.EIO) {
				t.Errorf("write through the link: %v, want EIO", err)
			}
			if _, err := os.OpenFile(tm.path("link"), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600); !errnoIs(err, syscall.EIO) {
				t.Errorf("create through the link: %v, want EIO", err)
			}
			outsideEmpty(t, outside)
			if !strings.Contains(tm.logs.String(), "path=/link") {
				t.Errorf("the refusal is not logged with the path:\n%s", tm.logs.String())
			}

			if dst, err := os.Readlink(tm.path("mine")); err != nil || dst != "inside" {
				t.Errorf("readlink of a symlink the mount made: %q, %v", dst, err)
			}
			if err := os.WriteFile(tm.path("mine"), []byte("kept inside"), 0o644); err != nil {
				t.Fatal(err)
			}
			if b, err := os.ReadFile(tm.path("inside")); err != nil || string(b) != "kept inside" {
				t.Errorf("write through a symlink the mount made: %q, %v", b, err)
			}
			if fi, err := os.Lstat(tm.path("mine")); err != nil || fi.Size() != int64(len("inside")) {
				t.Errorf("lstat of mine: %v, %v; want size %d", fi, err, len("inside"))
			}
		})
	}
}

// TestCopiedMarkRefused: on a plaintext-names volume, a CIPHERDIR writer
// who edits the target behind a valid mark, or copies a mark from another
// volume, gets nothing followed.
func TestCopiedMarkRefused(t *testing.T) {
	other := newTestMount(t, plainNames)
	if err := os.Symlink(filepath.Join(t.TempDir(), "victim"), other.path("l")); err != nil {
		t.Fatal(err)
	}
	foreign, err := os.Readlink(other.cpath(t, "l"))
	if err != nil {
		t.Fatal(err)
	}
	tm := newTestMount(t, plainNames)
	if err := os.Symlink("inside", tm.path("mine")); err != nil {
		t.Fatal(err)
	}
	stored, err := os.Readlink(tm.cpath(t, "mine"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(stored, "~inside") {
		t.Fatalf("stored target %q does not end in the target", stored)
	}
	plant(t, tm, "edited", strings.TrimSuffix(stored, "inside")+"/tmp/outside/victim")
	plant(t, tm, "copied", foreign)
	for _, n := range []string{"edited", "copied"} {
		if _, err := os.Readlink(tm.path(n)); !errnoIs(err, syscall.EIO) {
			t.Errorf("%s: readlink %v, want EIO", n, err)
		}
	}
}

// TestLinkKeyPersists: the link key made with the first symlink survives
// a remount, is hidden from the mount and cannot be made through it; a
// volume whose link key was deleted refuses the symlinks it marked
// instead of following them.
func TestLinkKeyPersists(t *testing.T) {
	tm := newTestMount(t, plainNames)
	if _, err := os.Stat(filepath.Join(tm.cipher, linkKeyFile)); !os.IsNotExist(err) {
		t.Fatalf("a volume without symlinks has a link key: %v", err)
	}
	if err := os.Symlink("inside", tm.path("mine")); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(tm.mnt)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 1 || ents[0].Name() != "mine" {
		t.Errorf("mount root lists %v, want only mine", ents)
	}
	if err := os.WriteFile(tm.path(linkKeyFile), nil, 0o600); !errnoIs(err, syscall.EPERM) {
		t.Errorf("creating %s through the mount: %v, want EPERM", linkKeyFile, err)
	}
	tm2 := tm.remount(t)
	if dst, err := os.Readlink(tm2.path("mine")); err != nil || dst != "inside" {
		t.Errorf("after a remount: %q, %v", dst, err)
	}
	tm2.noWarnings(t)

	if err := os.Remove(filepath.Join(tm.cipher, linkKeyFile)); err != nil {
		t.Fatal(err)
	}
	tm3 := tm.remount(t)
	if _, err := os.Readlink(tm3.path("mine")); !errnoIs(err, syscall.EIO) {
		t.Errorf("link key deleted: readlink %v, want EIO", err)
	}
}

// TestUnmarkedSymlinksOption: with Options.UnmarkedSymlinks a
// plaintext-names volume follows the symlinks made before marking (logged
// once per link), and a symlink recreated through the mount is marked.
func TestUnmarkedSymlinksOption(t *testing.T) {
	tm := newTestMount(t, plainNames)
	plant(t, tm, "old", "inside") // what a pre-marking mount wrote
	tm2 := tm.remount(t)
	if _, err := os.Readlink(tm2.path("old")); !errnoIs(err, syscall.EIO) {
		t.Errorf("without the option: %v, want EIO", err)
	}
	o := tm.options()
	o.UnmarkedSymlinks = true
	tm3 := &testMount{mnt: t.TempDir(), cipher: tm.cipher, keys: tm.keys, logs: &logBuf{}, chunk: tm.chunk}
	o.Logger = newWarnLogger(tm3.logs)
	tm3.mountWith(t, o)
	for range 2 {
		if dst, err := os.Readlink(tm3.path("old")); err != nil || dst != "inside" {
			t.Errorf("with the option: %q, %v", dst, err)
		}
	}
	if n := strings.Count(tm3.logs.String(), "unmarked symlink"); n != 1 {
		t.Errorf("logged %d times, want once:\n%s", n, tm3.logs.String())
	}
	// Recreating it through the mount marks it.
	if err := os.Remove(tm3.path("old")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("inside", tm3.path("old")); err != nil {
		t.Fatal(err)
	}
	tm4 := tm.remount(t)
	if dst, err := os.Readlink(tm4.path("old")); err != nil || dst != "inside" {
		t.Errorf("recreated: %q, %v", dst, err)
	}
	tm4.noWarnings(t)
}

// newWarnLogger logs warnings to l, as test mounts do.
func newWarnLogger(l *logBuf) *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelWarn}))
}
