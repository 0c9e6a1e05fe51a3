//go:build race

package oci

// raceEnabled scales the large randomized tests down under the race
// detector, which slows them tenfold without finding more.
const raceEnabled = true
