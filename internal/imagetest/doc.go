// Package imagetest builds small, deterministic container images shaped
// like Elemental derivatives, for the tests of every core package.
//
// It exists so that tests need no network, no Docker daemon and no
// committed binary fixtures: a test describes the files of each layer as
// data (File, Layer), and the package turns them into gzip layers, an
// in-memory v1.Image, an OCI layout directory, a docker-save archive, or an
// image pushed to a loopback registry. Every byte is a function of the
// description (fixed modification times, fixed creation time, sorted PAX
// records), so two builds of the same description are identical.
//
// The tar writer deliberately does not validate names: tests of the layer
// flattener need archives with "../x", duplicates and bad whiteouts.
package imagetest
