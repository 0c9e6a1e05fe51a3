// Package squashfs writes squashfs 4.0 images from a stream of
// rootfs entries, for the Elemental recovery image (recovery.img).
//
// Why our own writer: go-diskfs's squashfs writer builds an image from a
// directory workspace on disk, so the whole tree would have to be unpacked
// first, and no maintained Go library writes squashfs from a stream. The
// installer reads an image's layers once and fans the entries out to
// every filesystem writer (see internal/rootfs), so this writer must take
// entries as they come, in any order of parents and children, and never
// hold file data beyond a bounded number of in-flight blocks.
//
// The output follows the on-disk format documented in the Linux kernel
// (fs/squashfs, Documentation/filesystems/squashfs.rst) and
// squashfs-tools. Only gzip (a zlib stream, as squashfs calls it) and xz
// (LZMA2, CRC32 check, no BCJ filter, dictionary = block size) are
// offered, because GRUB's squash4 module must be able to loop-mount the
// recovery image (disk contract §2.1 and §3.3). Tests check images with
// unsquashfs, getfattr, a kernel loop mount and grub-fstest (GRUB's own
// squash4 driver).
//
// Layout choices:
//   - Data blocks are compressed in parallel but written strictly in
//     stream order, so output bytes never depend on scheduling. A block
//     is stored uncompressed when compression does not shrink it (or
//     when, for xz, a fast deflate probe cannot shrink it, to spare LZMA
//     the already compressed files of a root filesystem), and an
//     all-zero full block becomes a sparse block (size 0, nothing
//     written).
//   - Gzip uses klauspost/compress's deflate at a fast level (six times
//     the standard library's level 6 for ~12% more bytes). GRUB's inflate
//     refuses one kind of incomplete Huffman table that every deflate
//     encoder emits now and then (a lone distance code), so each block's
//     stream is walked and, when GRUB would refuse it, compressed again
//     Huffman-only or stored (grubsafe.go).
//   - The tail end of every file (size mod block size) is packed into
//     shared fragment blocks.
//   - Every byte of the image is written once, in order but for the
//     superblock: the data blocks as they come, then the tables and last
//     the superblock at offset 0 in Close, so the image can be streamed
//     through a block assembler.
//   - Inodes and directories can only be written in Close (the inode
//     table is in post-order with sorted directories), so the tree waits
//     for it. To keep memory flat in the image size (issue 7), only
//     directories stay in memory; every other entry, its block list
//     included, is a record in an unlinked temporary spill file
//     (Options.TempDir) and a 4-byte child of its directory. Close reads
//     the names back to sort each directory. Duplicate names among
//     entries that are not directories are therefore reported by Close.
//   - The inode, directory, fragment, id and xattr tables are built in
//     memory in Close (the xattr key/values as entries arrive) and
//     written after the data, then the superblock.
//   - There is no export (NFS lookup) table and no duplicate detection.
//   - Inodes are numbered in the order they are written: a directory's
//     children before the directory, the root last, like mksquashfs.
//   - Xattrs outside the user., trusted. and security. namespaces (for
//     example system.posix_acl_access) cannot be expressed in squashfs
//     4.0 and are dropped, as mksquashfs does.
package squashfs
