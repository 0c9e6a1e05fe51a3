// Package synth generates, once and deterministically, a synthetic
// Elemental derivative of a chosen size as an OCI image layout, for the
// benchmarks: a few large files, many small files (100 000 per 2 GiB),
// hardlinks, symlinks and several layers with whiteouts and an opaque
// directory, on top of the minimal bootable derivative of
// internal/imagetest.
//
// Layers are streamed to their blob files (tar → gzip → file) while being
// hashed, so generating a 4 GiB image needs little memory.
package synth
