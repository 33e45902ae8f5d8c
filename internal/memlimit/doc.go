// Package memlimit keeps the Go runtime's soft memory limit of a
// long-running kmsfs process (a mount's serving process) near its live
// heap, so that memory freed after a burst of work goes back to the
// operating system before the next burst instead of adding to it.
//
// # Why
//
// Without a limit the runtime collects when the heap has doubled its live
// size (GOGC=100), keeps freed pages up to ~10% over that goal, and
// returns the rest slowly: its background scavenger is paced to about 1%
// of the CPU. A mount that ran random I/O and then untarred Go's source
// tree peaked at up to 128 MiB RSS with a live heap of ~18 MiB (issue
// target: 100 MiB). Under a soft limit the runtime collects before its memory
// reaches the limit and scavenges eagerly as it nears it: in the same
// sequence the mount then peaked at 72 MiB (105 MiB before), with as
// many collections.
//
// # Why adaptive
//
// A fixed limit near what a large tree needs live would make the garbage
// collector run back to back. So the limit follows the live heap: [Limit]
// is the larger of [Floor] and the live heap plus half the growth GOGC
// allows (1.5 times the live heap at the default GOGC=100). Above the
// floor the collector runs about twice as often as GOGC alone would make
// it, never continuously: the heap keeps room to grow by about half of
// itself between collections, less what stacks and runtime metadata
// (which the limit counts) take.
//
// The limit is updated after every collection, when the live heap is
// known. A sudden large live allocation, such as a 64 MiB passphrase KDF
// through the keyring socket, is over the limit for one collection.
//
// # What it refuses
//
// A limit or GOGC the user chose wins: with GOMEMLIMIT set (also to
// "off"), a limit set before [Start], or GOGC=off (which asks for no
// collections by heap growth), Start changes nothing.
package memlimit
