package fsutil

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestReplaceSyncsDirAfterRename: the rename is followed by a sync of the
// directory that holds it; a failed write renames and syncs nothing and
// leaves no temporary file.
func TestReplaceSyncsDirAfterRename(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out")
	var synced []string
	testOnlySyncDir = func(d string) error {
		if _, err := os.Stat(path); err != nil {
			t.Errorf("directory synced before the rename: %v", err)
		}
		synced = append(synced, d)
		return SyncDir(d)
	}
	t.Cleanup(func() { testOnlySyncDir = SyncDir })
	if err := WriteFile(path, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if len(synced) != 1 || synced[0] != dir {
		t.Errorf("synced %q, want [%q]", synced, dir)
	}
	errWrite := errors.New("write failed")
	if err := Replace(filepath.Join(dir, "other"), 0o600, "", func(*os.File) error { return errWrite }); !errors.Is(err, errWrite) {
		t.Errorf("failed write: %v", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 || len(synced) != 1 {
		t.Errorf("after a failed write: %d entries, %d syncs; want 1, 1", len(ents), len(synced))
	}
}
