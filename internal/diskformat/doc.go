// Package diskformat turns the sparse raw disk that the installer writes
// into what clouds and hypervisors take: a block stream (for the AWS EBS
// direct API), a sparse raw copy, qcow2, fixed VHD (Azure), streamOptimized
// VMDK (VMware) and the GCE tarball (disk.raw in a gzipped oldgnu sparse
// tar).
//
// Why it exists: the raw disk is mostly holes, and every output is built in
// one streaming pass over its data extents, found with SEEK_DATA/SEEK_HOLE,
// so converting a 30 GiB disk with 2 GiB of data reads 2 GiB once, never
// shells out to qemu-img or tar and writes no temporary files. Memory is a
// few MiB of buffers (more with many compression workers) plus metadata
// that grows slowly with the disk: the extent map, the tar sparse map,
// 4 bytes of VMDK grain directory per 32 MiB and 8 bytes of qcow2 L1 per
// 512 MiB. Formats whose metadata precedes the data (qcow2 tables, the tar
// sparse map) are planned from the extent map first, which costs no I/O.
// When the destination is a regular file, zero runs become holes.
//
// Formats and their specifications:
//   - qcow2: QEMU docs/interop/qcow2.txt, version 3, 64 KiB clusters,
//     16-bit refcounts, no compression.
//   - vhd: Microsoft "Virtual Hard Disk Image Format Specification" 1.0,
//     fixed disk, size rounded up to 1 MiB as Azure requires.
//   - vmdk: VMware "Virtual Disk Format 5.0", streamOptimized monolithic
//     sparse extent: deflate-compressed grains with markers, grain tables
//     and directory at the end, footer and end-of-stream marker.
//   - gce: GNU tar "oldgnu" sparse member (typeflag 'S', four sparse
//     entries in the header and 21 per extension header, realsize) named
//     disk.raw and sized to a whole GiB, gzipped with parallel gzip. Go's
//     archive/tar reads sparse members but cannot write them, so this
//     package writes the tar headers itself (tar.go).
//
// Output is deterministic: timestamps come from Options.Time and
// identifiers from Options.Seed, and the parallel compressors produce the
// same bytes whatever Options.Workers is.
package diskformat
