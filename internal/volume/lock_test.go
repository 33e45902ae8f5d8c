package volume_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/kmsfs/kmsfs/internal/volume"
)

func TestLock(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, volume.ConfigName), []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	mount1, err := volume.Lock(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	mount2, err := volume.Lock(dir, false)
	if err != nil {
		t.Fatalf("two mounts' shared locks: %v", err)
	}
	if _, err := volume.Lock(dir, true); !errors.Is(err, volume.ErrInUse) {
		t.Fatalf("exclusive lock while mounted: %v, want ErrInUse", err)
	}
	mount1()
	mount2()
	job, err := volume.Lock(dir, true)
	if err != nil {
		t.Fatalf("exclusive lock once unmounted: %v", err)
	}
	if _, err := volume.Lock(dir, false); !errors.Is(err, volume.ErrInUse) {
		t.Errorf("a mount while a job runs: %v, want ErrInUse", err)
	}
	job()
	if _, err := volume.Lock(t.TempDir(), true); err == nil {
		t.Error("locking a directory without a config succeeded")
	}
}
