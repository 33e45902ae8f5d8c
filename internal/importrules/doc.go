// Package importrules states and checks the dependency rules between
// kmsfs's packages, so that they are enforced by a test rather than by
// review:
//
//   - only keyring/local imports Badger, only fs imports go-fuse's file
//     system (tests of fs and integration may import its POSIX suite), only
//     cmd imports urfave/cli;
//   - envelope and chunker import nothing of the module but each other;
//   - fs reaches no keyring package, directly or not, nor does the keyring
//     contract (package keyring) reach Badger.
//
// [Check] applies the rules to a listing of packages and their imports as
// `go list` reports it; the test runs it on the module.
package importrules
