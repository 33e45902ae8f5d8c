// Package doccheck holds the test that keeps kmsfs's documents and
// comments true to the repository: every spec citation (FORMAT.md §N,
// NAMES.md §N) names a section that exists, every bare § says which spec it
// means, and no document or comment cites a Markdown file the repository
// does not have.
package doccheck
