package importrules_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"strings"
	"testing"

	"github.com/kmsfs/kmsfs/internal/importrules"
)

// TestModuleFollowsRules runs the rules on the module as `go list` sees
// it, tests included (fs's tests must not reach a keyring either).
func TestModuleFollowsRules(t *testing.T) {
	pkgs := listModule(t)
	if len(pkgs) < 10 {
		t.Fatalf("go list found %d packages; the listing is wrong", len(pkgs))
	}
	for _, v := range importrules.Check(pkgs) {
		t.Error(v)
	}
}

// TestCheckCatchesViolations: each rule fires on a deliberate violation,
// so that a passing TestModuleFollowsRules means something.
func TestCheckCatchesViolations(t *testing.T) {
	const m = importrules.Module
	for _, tc := range []struct {
		name string
		pkg  importrules.Package
		want string
	}{
		{"badger outside local", importrules.Package{ImportPath: m + "/keyring/kmsapi", Imports: []string{"github.com/dgraph-io/badger/v4"}}, "only keyring/local"},
		{"go-fuse outside fs", importrules.Package{ImportPath: m + "/internal/session", Imports: []string{"github.com/hanwen/go-fuse/v2/fs"}}, "only fs"},
		{"cli outside cmd", importrules.Package{ImportPath: m + "/bench", Imports: []string{"github.com/urfave/cli/v2"}}, "only cmd/kmsfs"},
		{"envelope imports keyring", importrules.Package{ImportPath: m + "/envelope", Imports: []string{m + "/chunker", m + "/keyring"}}, "may import only"},
		{"chunker imports envelope", importrules.Package{ImportPath: m + "/chunker", Imports: []string{m + "/envelope"}}, "may import only"},
		{"fs reaches keyring", importrules.Package{ImportPath: m + "/fs", Deps: []string{m + "/envelope", m + "/keyring/local"}}, "reaches"},
		{"policy engine reads the keyring", importrules.Package{ImportPath: m + "/keyring/policy", Imports: []string{m + "/keyring", m + "/keyring/local"}}, "may import only"},
		{"transport checks signatures itself", importrules.Package{ImportPath: m + "/keyring/server", Imports: []string{m + "/keyring/sigv4"}}, "may import only"},
		{"contract reaches badger", importrules.Package{ImportPath: m + "/keyring", Deps: []string{"github.com/dgraph-io/badger/v4"}}, "reaches"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := importrules.Check([]importrules.Package{tc.pkg})
			if len(got) != 1 || !strings.Contains(got[0], tc.want) {
				t.Errorf("Check = %q, want one violation mentioning %q", got, tc.want)
			}
		})
	}
	ok := importrules.Package{ImportPath: m + "/fs", Imports: []string{"github.com/hanwen/go-fuse/v2/fs", m + "/envelope"}, Deps: []string{m + "/envelope"}}
	if got := importrules.Check([]importrules.Package{ok}); len(got) != 0 {
		t.Errorf("Check of a conforming package = %q", got)
	}
}

// listModule lists every package of the module; a package's Deps include
// those of its tests (go list -test lists the test variants, whose Deps
// are merged into the package's).
func listModule(t *testing.T) []importrules.Package {
	t.Helper()
	cmd := exec.Command("go", "list", "-test", "-json=ImportPath,Imports,TestImports,XTestImports,Deps,ForTest", importrules.Module+"/...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	byPath := map[string]*importrules.Package{}
	var order []string
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p struct {
			importrules.Package
			XTestImports []string
			ForTest      string
		}
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		path := p.ImportPath
		if p.ForTest != "" || strings.HasSuffix(path, ".test") {
			// A test variant "x [x.test]", "x_test [x.test]" or the test
			// main "x.test": its Deps are the test's reach.
			path = p.ForTest
			if path == "" {
				path = strings.TrimSuffix(p.ImportPath, ".test")
			}
			if q := byPath[path]; q != nil {
				q.Deps = append(q.Deps, p.Deps...)
			}
			continue
		}
		p.Package.TestImports = append(p.Package.TestImports, p.XTestImports...)
		pp := p.Package
		byPath[path] = &pp
		order = append(order, path)
	}
	pkgs := make([]importrules.Package, 0, len(order))
	for _, path := range order {
		pkgs = append(pkgs, *byPath[path])
	}
	return pkgs
}
