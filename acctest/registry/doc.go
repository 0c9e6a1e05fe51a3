// Package registry serves a throwaway OCI distribution registry on the
// host's loopback interface for acceptance tests and for guests booted by
// acctest/qemu.
//
// It exists so boot-proof tests can push a derivative image and let a
// guest pull it (elemental upgrade) without any network beyond the
// machine: a QEMU guest on user-mode networking reaches the host's
// 127.0.0.1:<port> as 10.0.2.2:<port>, which is why Start only accepts
// loopback addresses. The registry is go-containerregistry's
// pkg/registry, plain HTTP, blobs in memory unless a directory is given.
//
// For a person at a shell: go run ./acctest/registry/cmd/registry -addr 127.0.0.1:5000
package registry
