//go:build !race

package oci

const raceEnabled = false
