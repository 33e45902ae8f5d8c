package bench

import (
	"strings"
	"testing"
)

// BenchmarkSuites runs every suite as a sub-benchmark, e.g.
//
//	go test -bench 'Suites/Envelope/SealChunk' ./bench
func BenchmarkSuites(b *testing.B) {
	for _, s := range Suites() {
		b.Run(s.Name, s.F)
	}
}

// TestSuitesNames keeps suite names unique and paired: every envelope
// chunk benchmark has its raw GCM baseline.
func TestSuitesNames(t *testing.T) {
	seen := map[string]bool{}
	for _, s := range Suites() {
		if seen[s.Name] || s.F == nil {
			t.Errorf("duplicate or empty suite %q", s.Name)
		}
		seen[s.Name] = true
	}
	for name := range seen {
		if rest, ok := strings.CutPrefix(name, "Envelope/SealChunk/"); ok && !seen["GCM/Seal/"+rest] {
			t.Errorf("%s has no GCM baseline", name)
		}
		if rest, ok := strings.CutPrefix(name, "Envelope/OpenChunk/"); ok && !seen["GCM/Open/"+rest] {
			t.Errorf("%s has no GCM baseline", name)
		}
	}
}
