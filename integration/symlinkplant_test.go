package integration

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestPlantedSymlinkNoEscape plants CIPHERDIR/link -> OUTSIDE/victim
// (under the name the mount shows as "link", so encrypted names do not
// hide it) while the volume is not mounted, then writes through
// MOUNT/link with the built binary's mount: the write fails with EIO,
// nothing reaches OUTSIDE, the mount log names /link, and a symlink made
// through the mount still works after the remount. Runs in the name mode
// of KMSFS_IT_PLAINTEXT_NAMES (issue 12, item 7).
func TestPlantedSymlinkNoEscape(t *testing.T) {
	v := newVol(t)
	v.mount()
	if err := os.WriteFile(filepath.Join(v.plain, "link"), []byte("placeholder"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("inside", filepath.Join(v.plain, "mine")); err != nil {
		t.Fatal(err)
	}
	backing := v.cipherPath("link")
	v.umount()

	outside := t.TempDir()
	victim := filepath.Join(outside, "victim")
	if err := os.Remove(backing); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, backing); err != nil {
		t.Fatal(err)
	}
	v.mount()
	link := filepath.Join(v.plain, "link")
	if _, err := os.Readlink(link); !errors.Is(err, syscall.EIO) {
		t.Errorf("readlink: %v, want EIO", err)
	}
	if err := os.WriteFile(link, []byte("secret plaintext"), 0o644); !errors.Is(err, syscall.EIO) {
		t.Errorf("write through the planted link: %v, want EIO", err)
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 0 {
		t.Errorf("a write escaped the mount: %s holds %v", outside, ents)
	}
	if dst, err := os.Readlink(filepath.Join(v.plain, "mine")); err != nil || dst != "inside" {
		t.Errorf("a symlink made through the mount: %q, %v", dst, err)
	}
	if err := os.WriteFile(filepath.Join(v.plain, "mine"), []byte("kept inside"), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(v.plain, "inside")); err != nil || string(b) != "kept inside" {
		t.Errorf("write through mine: %q, %v", b, err)
	}
	v.umount()
	log, err := os.ReadFile(v.log)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(log), "/link") {
		t.Errorf("mount log does not name /link:\n%s", log)
	}
	if _, err := os.Stat(victim); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("victim exists after unmount: %v", err)
	}

	// A plaintext-names volume's old, unmarked symlinks are followed only
	// by a mount that asks to (--unmarked-symlinks), for converting them.
	if !plaintextNames() {
		return
	}
	v.mount("--unmarked-symlinks")
	if dst, err := os.Readlink(link); err != nil || dst != victim {
		t.Errorf("readlink with --unmarked-symlinks: %q, %v; want %s", dst, err, victim)
	}
}
