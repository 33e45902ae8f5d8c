package doccheck_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// repoFiles returns the tracked .go and .md files, relative to the root.
func repoFiles(t *testing.T) (root string, files []string) {
	t.Helper()
	out, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		t.Skipf("not in a git work tree: %v", err)
	}
	root = strings.TrimSpace(string(out))
	out, err = exec.Command("git", "-C", root, "ls-files", "*.go", "*.md").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range strings.Fields(string(out)) {
		// This package's own patterns and messages are not citations.
		if !strings.HasPrefix(f, "internal/doccheck/") {
			files = append(files, f)
		}
	}
	return root, files
}

var numbered = regexp.MustCompile(`^#+ (\d+(?:\.\d+)*)\.? `)

// sections returns the section numbers of a spec ("4", "4.5", ...).
func sections(t *testing.T, path string) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	secs := map[string]bool{}
	for _, line := range strings.Split(string(b), "\n") {
		if m := numbered.FindStringSubmatch(line); m != nil {
			secs[m[1]] = true
		}
	}
	if len(secs) < 10 {
		t.Fatalf("%s: only %d numbered sections found", path, len(secs))
	}
	return secs
}

// citation is "FORMAT.md §4.5" or "NAMES.md §8", possibly with a list
// "§4.5, §5.3" and comment markers between lines.
var citation = regexp.MustCompile(`(FORMAT|NAMES)\.md((?:[\s/]*,?[\s/]*(?:and\s+)?§\d+(?:\.\d+)*)+)`)
var sectionNum = regexp.MustCompile(`§(\d+(?:\.\d+)*)`)

func TestSpecCitationsExist(t *testing.T) {
	root, files := repoFiles(t)
	specs := map[string]map[string]bool{
		"FORMAT": sections(t, filepath.Join(root, "docs/FORMAT.md")),
		"NAMES":  sections(t, filepath.Join(root, "docs/NAMES.md")),
	}
	n := 0
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range citation.FindAllStringSubmatch(string(b), -1) {
			for _, s := range sectionNum.FindAllStringSubmatch(m[2], -1) {
				n++
				if !specs[m[1]][s[1]] {
					t.Errorf("%s cites %s.md §%s, which does not exist", f, m[1], s[1])
				}
			}
		}
	}
	if n < 20 {
		t.Errorf("only %d spec citations found; the pattern is wrong", n)
	}
}

// bareSection finds a § that no spec name (or RFC) precedes in the same
// comment: "(§8)" is ambiguous between FORMAT.md and NAMES.md.
var qualified = regexp.MustCompile(`(FORMAT\.md|NAMES\.md|RFC \d+)((?:[\s/]*,?[\s/]*(?:and\s+)?§\d+(?:\.\d+)*)+)`)

func TestNoBareSections(t *testing.T) {
	root, files := repoFiles(t)
	for _, f := range files {
		if !strings.HasSuffix(f, ".go") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		rest := qualified.ReplaceAllString(string(b), "")
		for i, line := range strings.Split(rest, "\n") {
			if strings.Contains(line, "§") {
				t.Errorf("%s: a § without FORMAT.md or NAMES.md before it: %q (line %d after removing qualified citations)", f, strings.TrimSpace(line), i+1)
			}
		}
	}
}

// mdName is a Markdown file named without a directory of another
// repository before it ("STYLE.md", not "Documentation/file-format.md").
var mdName = regexp.MustCompile(`(^|[^\w/.-])([\w-]+\.md)\b`)

func TestCitedDocumentsExist(t *testing.T) {
	root, files := repoFiles(t)
	have := map[string]bool{}
	for _, f := range files {
		have[filepath.Base(f)] = true
	}
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range mdName.FindAllStringSubmatch(string(b), -1) {
			if !have[m[2]] {
				t.Errorf("%s cites %s, which is not in the repository", f, m[2])
			}
		}
	}
}
