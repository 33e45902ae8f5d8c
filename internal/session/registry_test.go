package session_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/kmsfs/kmsfs/internal/session"
)

func TestRegistry(t *testing.T) {
	base := t.TempDir()
	kr := filepath.Join(base, "keyring")
	if got, err := session.KnownVolumes(kr); err != nil || len(got) != 0 {
		t.Fatalf("empty registry: %v, %v", got, err)
	}
	var dirs []string
	for i := range 8 {
		d := filepath.Join(base, fmt.Sprintf("vol%d", i))
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, d)
	}
	// Concurrent registrations, twice each and by another spelling, lose
	// nothing and add nothing twice.
	var wg sync.WaitGroup
	for _, d := range dirs {
		for _, spelling := range []string{d, d + "/", d + "/../" + filepath.Base(d)} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := session.RegisterVolume(kr, spelling); err != nil {
					t.Error(err)
				}
			}()
		}
	}
	wg.Wait()
	got, err := session.KnownVolumes(kr)
	if err != nil || !slices.Equal(got, dirs) {
		t.Fatalf("registry %v, %v; want %v", got, err, dirs)
	}
	fi, err := os.Stat(session.RegistryPath(kr))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("registry mode %v, %v; want 0600", fi.Mode(), err)
	}
	leftovers, _ := filepath.Glob(filepath.Join(base, ".keyring.volumes.tmp*"))
	if len(leftovers) != 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}
	if err := session.RegisterVolume(kr, filepath.Join(base, "missing")); err == nil {
		t.Error("registered a missing directory")
	}
}

func TestRegistryBad(t *testing.T) {
	kr := filepath.Join(t.TempDir(), "keyring")
	for _, body := range []string{`{`, `{"a":1}`, `["relative/path"]`, `[1]`} {
		if err := os.WriteFile(session.RegistryPath(kr), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := session.KnownVolumes(kr); !errors.Is(err, session.ErrBadRegistry) {
			t.Errorf("registry %q: %v, want ErrBadRegistry", body, err)
		}
	}
}

// FuzzKnownVolumes: any registry file either fails with ErrBadRegistry or
// yields sorted, unique, absolute paths; never a panic.
func FuzzKnownVolumes(f *testing.F) {
	f.Add([]byte(`["/a","/b"]`))
	f.Add([]byte(`["/b","/a","/a"]`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`null`))
	f.Add([]byte(`["rel"]`))
	kr := filepath.Join(f.TempDir(), "keyring")
	f.Fuzz(func(t *testing.T, b []byte) {
		if err := os.WriteFile(session.RegistryPath(kr), b, 0o600); err != nil {
			t.Fatal(err)
		}
		dirs, err := session.KnownVolumes(kr)
		if err != nil {
			if !errors.Is(err, session.ErrBadRegistry) {
				t.Fatalf("error %v does not match ErrBadRegistry", err)
			}
			return
		}
		for i, d := range dirs {
			if !filepath.IsAbs(d) || (i > 0 && dirs[i-1] >= d) {
				t.Fatalf("registry %q gave %q", b, dirs)
			}
		}
	})
}
