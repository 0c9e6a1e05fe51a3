// Package faultproxy is an HTTP reverse proxy on the loopback interface
// that injects faults into the replies of a registry behind it: slow
// replies, 5xx errors, blobs cut mid-way (connection closed, or a clean
// but short chunked body) and reset connections, each request faulted
// with a given probability drawn from a seeded generator.
//
// It exists to test that the installer either survives a flaky registry
// with a byte-identical disk or fails with a clear error and nothing left
// behind; it is a test tool, never used by the product. Faults are chosen
// per request in arrival order, so a run is reproducible from its seed
// only when requests arrive in the same order (one build at a time).
package faultproxy
