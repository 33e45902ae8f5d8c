package fs

import (
	"bytes"
	"os"
	"testing"
)

// TestReadOnlyCloseSendsNoFlush: closing a read-only descriptor costs no
// FLUSH request (FOPEN_NOFLUSH), a writable one still does, and a reader
// opening and closing beside a writer does not stop the writer's data
// from being committed.
func TestReadOnlyCloseSendsNoFlush(t *testing.T) {
	buf := &logBuf{}
	tm := newTestMount(t, requestLog(buf))
	want := plaintext(3*tm.chunk + 100)
	w, err := os.OpenFile(tm.path("f"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(want[:tm.chunk+10]); err != nil {
		t.Fatal(err)
	}
	mark := len(buf.String())
	for range 3 {
		got, err := os.ReadFile(tm.path("f"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want[:tm.chunk+10]) {
			t.Fatalf("reader beside a writer read %d bytes, want the %d written", len(got), tm.chunk+10)
		}
	}
	if n := requests(buf, mark, "OPEN"); n != 3 {
		t.Errorf("%d OPEN requests for 3 reads, want 3 (is the request log working?)", n)
	}
	if n := requests(buf, mark, "FLUSH"); n != 0 {
		t.Errorf("%d FLUSH requests for 3 read-only closes, want 0", n)
	}
	if _, err := w.Write(want[tm.chunk+10:]); err != nil {
		t.Fatal(err)
	}
	mark = len(buf.String())
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if n := requests(buf, mark, "FLUSH"); n != 1 {
		t.Errorf("%d FLUSH requests for a writable close, want 1", n)
	}
	tm.waitReleased(t)
	got, err := os.ReadFile(tm.remount(t).path("f"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("after remount: %d bytes, want the %d written", len(got), len(want))
	}
}
