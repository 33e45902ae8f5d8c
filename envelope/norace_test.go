//go:build !race

package envelope_test

// raceEnabled is true under the race detector (see race_test.go).
const raceEnabled = false
