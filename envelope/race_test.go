//go:build race

package envelope_test

// raceEnabled is true under the race detector, which makes sync.Pool drop
// items at random, so allocation counts do not hold.
const raceEnabled = true
