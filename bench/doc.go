// Command bench measures the suite against the pipeline people use today
// and writes the results (docs/performance.md; `make bench`).
//
// It builds the same derivative with the core (installer.Run in a child
// process) and with the reference pipeline of reference.sh (flatten as
// root, mkfs.ext2 -d, mksquashfs, mkfs.ext4 -d, mkfs.vfat + mcopy,
// concatenate + sgdisk), alternating A B A B, and measures the floor
// (floor.sh: gzip -dc of every layer blob, then sync). Each build runs as a
// child so that its wall time, CPU time and peak RSS come from wait4's
// rusage; a sampler of the work filesystem's free space gives the peak
// scratch space. It then scales the core over synthetic derivatives
// (bench/synth), publishes a core disk to the AWS and GCP emulators (and
// streams the same derivative into an AMI with no disk file), and runs the
// hot-path Go benchmarks.
//
// Subcommands used as children: "core" (one installer.Run, result as
// JSON; -cpuprofile, -memprofile and -peakprofile, a heap profile at the
// live-heap peak, for profiling by hand), "stream" (installer.Prepare, then
// publish/aws.PublishSource of the Prepared to the emulator at -endpoint:
// blocks straight from the writers, no disk file) and "extract" (the
// flattened tar of an OCI layout on stdout, with go-containerregistry's mutate.Extract, for reference.sh).
package main
