package fs

import (
	"bytes"
	"context"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/kmsfs/kmsfs/envelope"
)

// TestSlotFallbackLogged damages the newest header slot of a file: reads
// still work from the older slot, and the mount logs the fallback once for
// the file (plaintext path, both generations), however often it is opened.
func TestSlotFallbackLogged(t *testing.T) {
	tm := newTestMount(t)
	want := plaintext(3*tm.chunk + 10)
	if err := os.WriteFile(tm.path("f"), want[:100], 0o644); err != nil {
		t.Fatal(err)
	}
	tm.waitReleased(t)
	f, err := os.OpenFile(tm.path("f"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(want[100:]); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	tm.waitReleased(t)

	cp := tm.cpath(t, "f")
	cf, err := os.Open(cp)
	if err != nil {
		t.Fatal(err)
	}
	h, err := envelope.ReadHeader(context.Background(), cf, tm.keys)
	cf.Close()
	if err != nil {
		t.Fatal(err)
	}
	if h.Generation < 2 {
		t.Fatalf("generation %d: the file has one slot, the test needs two", h.Generation)
	}
	// The last byte of the current slot is its MAC.
	flipByte(t, cp, int64(envelope.PreambleSize+(h.Slot+1)*envelope.SlotSize-1))
	if s := tm.logs.String(); s != "" {
		t.Fatalf("warnings before the damage was read:\n%s", s)
	}
	for range 3 {
		got, err := os.ReadFile(tm.path("f"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatal("contents changed after falling back to the older slot")
		}
		tm.waitReleased(t)
	}
	logs := tm.logs.String()
	if n := strings.Count(logs, "newest header slot fails"); n != 1 {
		t.Fatalf("fallback logged %d times, want once:\n%s", n, logs)
	}
	for _, w := range []string{"path=/f", "failed_generation=" + itoa(h.Generation), "used_generation=" + itoa(h.Generation-1)} {
		if !strings.Contains(logs, w) {
			t.Errorf("log lacks %q:\n%s", w, logs)
		}
	}
}

func itoa(u uint64) string { return strconv.FormatUint(u, 10) }
