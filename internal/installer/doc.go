// Package installer turns an Elemental derivative image into a bootable
// disk: the one package the Packer builders and the Terraform provider call.
//
// Run takes a Spec and returns a Result. It reads the image twice: a first
// pass over the layers records only headers (sizes, names, links) plus the
// few small boot files, so the generation is detected, every missing part is
// reported and every partition is sized before anything is written; the
// second pass streams file data once into every filesystem image at its
// final offset in a sparse raw disk (the snapshot or active/passive images,
// the recovery image, the kernel and initrd of recovery). Nothing is
// unpacked to a directory, nothing is mounted, and no external tool runs.
// Each layer is inflated once: the first pass keeps the tar it inflated,
// S2-compressed, in a private temporary directory (internal/oci's spill,
// about 40% of the tar), and the second pass reads that back instead of
// inflating the blob again; Prepared.Close removes it.
//
// Run is Prepare (everything up to the first write) followed by
// Prepared.Write. Prepared.Stream writes the same disk, byte for byte, as
// whole blocks handed to a consumer as soon as each is complete
// (internal/blockstream), with no file at all: the writers put every byte
// at its final offset once, so only blocks waiting for a file system's
// tables are buffered. Publishers upload from it directly.
//
// Outputs appear only when complete: the disk is assembled under a temporary
// name in the output directory and renamed at the end; on error or
// cancellation every temporary file is removed.
package installer
