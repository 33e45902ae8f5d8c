package volume_test

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/kmsfs/kmsfs/internal/volume"
)

// FuzzLoad feeds arbitrary kmsfs.conf contents to Load: it must never
// panic, and a config it accepts must survive Save and Load unchanged.
func FuzzLoad(f *testing.F) {
	seeds, err := filepath.Glob("testdata/*.json")
	if err != nil || len(seeds) == 0 {
		f.Fatalf("no seeds in testdata: %v", err)
	}
	for _, p := range seeds {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, content []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, volume.ConfigName), content, 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := volume.Load(dir)
		if err != nil {
			return
		}
		out := t.TempDir()
		if err := c.Save(out); err != nil {
			t.Fatalf("Save of a loaded config: %v", err)
		}
		again, err := volume.Load(out)
		if err != nil {
			t.Fatalf("Load of a saved config: %v", err)
		}
		c1, c2 := *c, *again
		if !reflect.DeepEqual(exported(c1), exported(c2)) {
			t.Fatalf("round trip changed the config:\n%+v\n%+v", c1, c2)
		}
	})
}

// exported drops the unexported directory a config remembers.
func exported(c volume.Config) []any {
	return []any{c.Version, c.VolumeID, c.KeyId, c.KeyAlias, c.ChunkSize, c.PlaintextNames, c.WrappedNameKey}
}
