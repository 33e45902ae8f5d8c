package integration

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kmsfs/kmsfs/envelope"
)

// TestStreamTruncation (issue 12, item 9): piped `kmsfs encrypt` output is
// stream format 2, and every cut of it (to nothing, inside or at the end
// of the header, at every chunk boundary, inside a chunk) fails to decrypt
// with exit 6 and no output file; so does every cut of `encrypt -o`
// output (its floor covers it). A format 1 stream without a floor (as
// piped before) still decrypts, with a warning on stderr.
func TestStreamTruncation(t *testing.T) {
	v := newVol(t)
	const c = envelope.MinChunkSize
	plain := bytes.Repeat([]byte("truncate me\n"), 3*c/12+50)
	in := filepath.Join(v.base, "in")
	if err := os.WriteFile(in, plain, 0o600); err != nil {
		t.Fatal(err)
	}
	piped, _ := v.must2("encrypt", "--chunk-size", "4096", in)
	if piped[15]&envelope.FlagStream == 0 {
		t.Fatalf("piped output has flags %#x, want FlagStream", piped[14:16])
	}
	v.must("encrypt", "--chunk-size", "4096", "-o", filepath.Join(v.base, "file.kmsfs"), in)
	seeked, err := os.ReadFile(filepath.Join(v.base, "file.kmsfs"))
	if err != nil {
		t.Fatal(err)
	}
	for name, ct := range map[string][]byte{"piped": piped, "-o": seeked} {
		if got, errOut := v.decrypt(ct, 0); !bytes.Equal(got, plain) || errOut != "" {
			t.Fatalf("%s: whole stream: %d bytes, stderr %q", name, len(got), errOut)
		}
		cuts := []int{0, 1, envelope.HeaderSize - 1, envelope.HeaderSize}
		for off := envelope.HeaderSize; off < len(ct); off += c + envelope.ChunkOverhead {
			cuts = append(cuts, off, off+1, off+envelope.ChunkOverhead+1, min(off+c+envelope.ChunkOverhead, len(ct)-1))
		}
		for _, n := range cuts {
			if n > 0 && n >= len(ct) {
				continue
			}
			v.decrypt(ct[:n], exitIntegrity)
		}
	}
	// A format 1 stream without a floor: slot B (the floor) zeroed leaves
	// slot A, committed size 0, as kmsfs encrypt wrote to a pipe before.
	legacy := bytes.Clone(seeked)
	clear(legacy[envelope.PreambleSize+envelope.SlotSize : envelope.HeaderSize])
	if got, errOut := v.decrypt(legacy, 0); !bytes.Equal(got, plain) || !strings.Contains(errOut, "no truncation protection") {
		t.Errorf("legacy stream: %d bytes, stderr %q", len(got), errOut)
	}
	cut := legacy[:envelope.HeaderSize+2*(c+envelope.ChunkOverhead)]
	if got, errOut := v.decrypt(cut, 0); len(got) != 2*c || !strings.Contains(errOut, "warning") {
		t.Errorf("legacy stream cut at a chunk boundary: %d bytes, stderr %q", len(got), errOut)
	}
}

const exitIntegrity = 6

// must2 runs kmsfs, requires exit 0, and returns stdout as bytes and stderr.
func (v *vol) must2(args ...string) ([]byte, string) {
	v.t.Helper()
	out, errOut, code := v.kmsfs(args...)
	if code != 0 {
		v.t.Fatalf("kmsfs %s: exit %d: %s", strings.Join(args, " "), code, errOut)
	}
	return []byte(out), errOut
}

// decrypt runs kmsfs decrypt -o on ct, requires exit code want, and
// returns the output (nil unless 0: no partial output) and stderr.
func (v *vol) decrypt(ct []byte, want int) ([]byte, string) {
	v.t.Helper()
	dir := v.t.TempDir()
	in, out := filepath.Join(dir, "ct"), filepath.Join(dir, "pt")
	if err := os.WriteFile(in, ct, 0o600); err != nil {
		v.t.Fatal(err)
	}
	_, errOut, code := v.kmsfs("decrypt", "-o", out, in)
	if code != want {
		v.t.Errorf("decrypt of %d bytes: exit %d, want %d: %s", len(ct), code, want, errOut)
	}
	got, err := os.ReadFile(out)
	if want != 0 && err == nil {
		v.t.Errorf("decrypt of %d bytes failed but left %s", len(ct), out)
	}
	return got, errOut
}
