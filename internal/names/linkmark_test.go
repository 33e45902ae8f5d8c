package names_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/kmsfs/kmsfs/internal/names"
)

func newMarker(t testing.TB, fill byte) *names.LinkMarker {
	t.Helper()
	m, err := names.NewLinkMarker(bytes.Repeat([]byte{fill}, names.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestLinkMarkRoundTrip(t *testing.T) {
	m := newMarker(t, 1)
	for _, target := range []string{"x", "../a/b", "/tmp/outside/victim", "with~tilde~", strings.Repeat("a", names.MaxMarkedTargetLen)} {
		stored, err := m.MarkTarget(target)
		if err != nil {
			t.Fatalf("len=%d: %v", len(target), err)
		}
		if len(stored) != len(target)+names.LinkMarkOverhead || len(stored) > 4095 {
			t.Errorf("len=%d: stored %d bytes", len(target), len(stored))
		}
		got, err := m.CheckTarget(stored)
		if err != nil || got != target {
			t.Errorf("len=%d: CheckTarget = %q, %v", len(target), got, err)
		}
	}
	if _, err := m.MarkTarget(strings.Repeat("a", names.MaxMarkedTargetLen+1)); !errors.Is(err, names.ErrTooLong) {
		t.Errorf("one byte too long: %v, want ErrTooLong", err)
	}
}

// TestLinkMarkRefuses covers what a CIPHERDIR writer can plant: an
// unmarked target, a marked one with another target or another volume's
// key, and malformed marks.
func TestLinkMarkRefuses(t *testing.T) {
	m := newMarker(t, 1)
	good, err := m.MarkTarget("/home/u/docs")
	if err != nil {
		t.Fatal(err)
	}
	other, err := newMarker(t, 2).MarkTarget("/tmp/outside/victim")
	if err != nil {
		t.Fatal(err)
	}
	mac := good[len(names.LinkMarkPrefix) : names.LinkMarkOverhead-1]
	for name, tc := range map[string]struct {
		stored string
		want   error
	}{
		"unmarked":         {"/tmp/outside/victim", names.ErrUnmarkedTarget},
		"empty":            {"", names.ErrUnmarkedTarget},
		"target changed":   {names.LinkMarkPrefix + mac + "~/tmp/outside/victim", names.ErrUnauthenticated},
		"target extended":  {good + "/..", names.ErrUnauthenticated},
		"other volume key": {other, names.ErrUnauthenticated},
		"prefix only":      {names.LinkMarkPrefix, names.ErrUnauthenticated},
		"no separator":     {names.LinkMarkPrefix + mac + "/x", names.ErrUnauthenticated},
		"short mac":        {names.LinkMarkPrefix + mac[1:] + "~/home/u/docs", names.ErrUnauthenticated},
		"mac not base64":   {names.LinkMarkPrefix + "!" + mac[1:] + "~/home/u/docs", names.ErrUnauthenticated},
		"mac flipped":      {names.LinkMarkPrefix + "B" + mac[1:] + "~/home/u/docs", names.ErrUnauthenticated},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := m.CheckTarget(tc.stored)
			if !errors.Is(err, tc.want) || got != "" {
				t.Errorf("CheckTarget = %q, %v; want %v", got, err, tc.want)
			}
		})
	}
	if mac[0] == 'B' {
		t.Fatal("test MAC starts with the flipped character; pick another")
	}
}

func TestLinkMarkerKeySize(t *testing.T) {
	if _, err := names.NewLinkMarker(make([]byte, 31)); !errors.Is(err, names.ErrKeySize) {
		t.Errorf("31-byte key: %v, want ErrKeySize", err)
	}
}

// FuzzSplitMarkedTarget: any stored target either fails with one of the
// two sentinels or splits into parts that put back together give it
// again; CheckTarget never panics and accepts nothing it did not mark.
func FuzzSplitMarkedTarget(f *testing.F) {
	m := newMarker(f, 1)
	for _, target := range []string{"a", "/tmp/outside/victim", "x~y"} {
		s, err := m.MarkTarget(target)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(s)
	}
	f.Add("/plain/target")
	f.Add(names.LinkMarkPrefix + "~")
	f.Fuzz(func(t *testing.T, stored string) {
		mac, target, err := names.SplitMarkedTarget(stored)
		if err != nil {
			if !errors.Is(err, names.ErrUnmarkedTarget) && !errors.Is(err, names.ErrUnauthenticated) {
				t.Fatalf("unexpected error %v", err)
			}
		} else if names.LinkMarkPrefix+mac+"~"+target != stored {
			t.Fatalf("split %q into %q, %q", stored, mac, target)
		}
		if got, err := m.CheckTarget(stored); err == nil {
			if again, _ := m.MarkTarget(got); again != stored {
				t.Fatalf("accepted %q, which MarkTarget writes as %q", stored, again)
			}
		}
	})
}
