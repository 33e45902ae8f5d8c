package importrules

import (
	"fmt"
	"slices"
	"strings"
)

// Module is the import path of the kmsfs module.
const Module = "github.com/kmsfs/kmsfs"

// Package is one package as `go list -json` reports it: its direct imports
// (of its non-test files), the imports of its tests, and every package it
// reaches.
type Package struct {
	ImportPath  string
	Imports     []string
	TestImports []string
	Deps        []string
}

// rule is one way a package may break the rules; it returns a description
// of the violation or "".
type rule func(p *Package) string

var rules = []rule{
	onlyImportedBy("github.com/dgraph-io/badger", "keyring/local"),
	onlyImportedBy("github.com/hanwen/go-fuse/v2/fs", "fs"),
	onlyImportedBy("github.com/hanwen/go-fuse/v2/fuse", "fs"),
	onlyImportedBy("github.com/urfave/cli", "cmd/kmsfs"),
	moduleImportsWithin("envelope", "chunker"),
	moduleImportsWithin("chunker"),
	reachesNone("fs", Module+"/keyring"),
	reachesNone("keyring", "github.com/dgraph-io/badger"),
	// Who may call and how keys are kept never meet: authentication, the
	// policy engine and the TCP transport see only the contract.
	moduleImportsWithin("keyring/sigv4", "keyring"),
	moduleImportsWithin("keyring/policy", "keyring"),
	moduleImportsWithin("keyring/server", "keyring"),
}

// Check returns every violation of the rules by pkgs.
func Check(pkgs []Package) []string {
	var bad []string
	for i := range pkgs {
		for _, r := range rules {
			if v := r(&pkgs[i]); v != "" {
				bad = append(bad, v)
			}
		}
	}
	return bad
}

func rel(path string) string { return strings.TrimPrefix(strings.TrimPrefix(path, Module), "/") }

func hasPrefixPath(path, prefix string) bool {
	return path == prefix || strings.HasPrefix(path, prefix+"/")
}

// onlyImportedBy: only owner (a module-relative path) imports dep in its
// non-test files.
func onlyImportedBy(dep, owner string) rule {
	return func(p *Package) string {
		if rel(p.ImportPath) == owner {
			return ""
		}
		for _, imp := range p.Imports {
			if hasPrefixPath(imp, dep) {
				return fmt.Sprintf("%s imports %s: only %s may", p.ImportPath, imp, owner)
			}
		}
		return ""
	}
}

// moduleImportsWithin: pkg's non-test files import no package of the
// module but those listed.
func moduleImportsWithin(pkg string, allowed ...string) rule {
	return func(p *Package) string {
		if rel(p.ImportPath) != pkg {
			return ""
		}
		for _, imp := range p.Imports {
			if hasPrefixPath(imp, Module) && !slices.Contains(allowed, rel(imp)) {
				return fmt.Sprintf("%s imports %s: it may import only %v of the module", p.ImportPath, imp, allowed)
			}
		}
		return ""
	}
}

// reachesNone: pkg reaches no package under forbidden, directly or
// through others.
func reachesNone(pkg, forbidden string) rule {
	return func(p *Package) string {
		if rel(p.ImportPath) != pkg {
			return ""
		}
		for _, d := range p.Deps {
			if hasPrefixPath(d, forbidden) {
				return fmt.Sprintf("%s reaches %s", p.ImportPath, d)
			}
		}
		return ""
	}
}
