package envelope_test

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/kmsfs/kmsfs/envelope"
)

// specExample is one row of the sizes table in FORMAT.md, section 7.
type specExample struct {
	plain, chunks, cipher int64
}

// readSpecExamples parses the rows between the spec-examples markers.
func readSpecExamples(t *testing.T) []specExample {
	t.Helper()
	doc, err := os.ReadFile("../docs/FORMAT.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok1 := strings.Cut(string(doc), "<!-- spec-examples:begin -->")
	table, _, ok2 := strings.Cut(rest, "<!-- spec-examples:end -->")
	if !ok1 || !ok2 {
		t.Fatal("FORMAT.md: spec-examples markers not found")
	}
	var rows []specExample
	for _, line := range strings.Split(table, "\n") {
		cells := strings.Split(strings.Trim(strings.TrimSpace(line), "|"), "|")
		if len(cells) < 3 {
			continue
		}
		var v [3]int64
		var err error
		for i := range v {
			if v[i], err = strconv.ParseInt(strings.TrimSpace(cells[i]), 10, 64); err != nil {
				break
			}
		}
		if err == nil {
			rows = append(rows, specExample{v[0], v[1], v[2]})
		}
	}
	return rows
}

// TestSpecExamples checks every worked size in FORMAT.md against the code,
// in both directions, and that the table still lists the required sizes.
func TestSpecExamples(t *testing.T) {
	const c = envelope.DefaultChunkSize
	rows := readSpecExamples(t)
	required := map[int64]bool{0: false, 1: false, 65535: false, 65536: false, 65537: false, 1 << 20: false, 1 << 30: false}
	for _, r := range rows {
		required[r.plain] = true
		if got := envelope.CiphertextSize(r.plain, c); got != r.cipher {
			t.Errorf("CiphertextSize(%d) = %d, FORMAT.md says %d", r.plain, got, r.cipher)
		}
		if got, err := envelope.PlaintextSize(r.cipher, c); err != nil || got != r.plain {
			t.Errorf("PlaintextSize(%d) = %d, %v; FORMAT.md says %d", r.cipher, got, err, r.plain)
		}
		if n := (r.plain + c - 1) / c; n != r.chunks {
			t.Errorf("plaintext %d: %d chunks, FORMAT.md says %d", r.plain, n, r.chunks)
		}
	}
	for size, seen := range required {
		if !seen {
			t.Errorf("FORMAT.md sizes table lacks plaintext size %d", size)
		}
	}
}

// TestSpecConstants checks the derivations in FORMAT.md, section 1.
func TestSpecConstants(t *testing.T) {
	for _, tc := range []struct {
		name      string
		got, want int
	}{
		{"PreambleSize", envelope.PreambleSize, 6 + 2 + 4 + 2 + 2 + 16},
		{"HeaderSize", envelope.HeaderSize, 544},
		{"ChunkOverhead", envelope.ChunkOverhead, 28},
		{"MaxWrappedKeyLen", envelope.MaxWrappedKeyLen, 256 - 32 - 38},
		{"DefaultChunkSize", envelope.DefaultChunkSize, 65536},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %d, want %d", tc.name, tc.got, tc.want)
		}
	}
}

func TestPlaintextSizeErrors(t *testing.T) {
	const c = envelope.MinChunkSize
	for _, tc := range []struct {
		cipher   int64
		want     int64
		sentinel error
	}{
		{0, 0, nil},
		{1, 0, envelope.ErrTruncated},
		{envelope.HeaderSize - 1, 0, envelope.ErrTruncated},
		{envelope.HeaderSize, 0, nil},
		{envelope.HeaderSize + 1, 0, envelope.ErrTruncated},
		{envelope.HeaderSize + 28, 0, envelope.ErrTruncated},
		{envelope.HeaderSize + 29, 1, nil},
		{envelope.HeaderSize + c + 28 + 28, c, envelope.ErrTruncated},
		{-1, 0, envelope.ErrInvalidOffset},
	} {
		got, err := envelope.PlaintextSize(tc.cipher, c)
		if got != tc.want || !errors.Is(err, tc.sentinel) || (tc.sentinel == nil) != (err == nil) {
			t.Errorf("PlaintextSize(%d) = %d, %v; want %d, %v", tc.cipher, got, err, tc.want, tc.sentinel)
		}
	}
	for _, c := range []int{0, 4095, 4097, 3 << 12, 2 << 20} {
		if _, err := envelope.PlaintextSize(1000, c); !errors.Is(err, envelope.ErrBadChunkSize) || !errors.Is(err, envelope.ErrBadHeader) {
			t.Errorf("chunk size %d: %v, want ErrBadChunkSize", c, err)
		}
		if got := envelope.CiphertextSize(1000, c); got != -1 {
			t.Errorf("CiphertextSize with chunk size %d = %d, want -1", c, got)
		}
	}
	if got := envelope.CiphertextSize(-5, c); got != -1 {
		t.Errorf("CiphertextSize(-5) = %d, want -1", got)
	}
}

// TestSpecReferences requires every `FORMAT.md, "Section"` citation in the
// code to name an existing FORMAT.md heading, so that code keeps pointing
// at the spec as it changes.
func TestSpecReferences(t *testing.T) {
	doc, err := os.ReadFile("../docs/FORMAT.md")
	if err != nil {
		t.Fatal(err)
	}
	var headings []string
	for _, line := range strings.Split(string(doc), "\n") {
		if strings.HasPrefix(line, "#") {
			headings = append(headings, line)
		}
	}
	ref := regexp.MustCompile(`FORMAT\.md,? "([^"]+)"`)
	n := 0
	for _, dir := range []string{".", "../chunker"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
		for _, file := range files {
			if strings.HasSuffix(file, "_test.go") {
				continue
			}
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range ref.FindAllStringSubmatch(string(src), -1) {
				n++
				name := strings.Join(strings.Fields(strings.ReplaceAll(m[1], "//", "")), " ") // joined comment lines
				if !slices.ContainsFunc(headings, func(h string) bool { return strings.Contains(h, name) }) {
					t.Errorf("%s cites FORMAT.md section %q, which does not exist", file, name)
				}
			}
		}
	}
	if n < 10 {
		t.Errorf("only %d FORMAT.md citations found", n)
	}
}
