// Package ext4 writes ext2 and ext4 filesystem images from a stream of
// rootfs entries, in one pass, straight into an io.WriterAt region.
//
// File data goes to its final blocks as it arrives (blocks are handed out
// sequentially, all-zero blocks become holes), so memory grows with the
// number of inodes and directory entries but never with file data. All
// metadata (directories, extent trees or indirect blocks, extended-attribute
// blocks, inode tables, bitmaps, group descriptors, superblocks) is written
// by Close. Nothing is written where nothing is allocated, so the output
// stays sparse; the region must therefore read as zeros beforehand (a new
// or truncated file).
//
// Why our own writer rather than an existing library:
//
//   - hcsshim's ext4/tar2ext4 streams, but writes no volume label, leaves the
//     inode bitmap padding unset (e2fsck -fn fails with "Padding at end of
//     inode bitmap is not set"), produces exactly-full read-only filesystems,
//     and cannot reserve a contiguous region for a nested image (§9 of the
//     Elemental disk contract).
//   - go-diskfs' ext4 builds a random-access tree in place and is not
//     streaming.
//
// Two flavours are written. KindExt2 is real ext2 (filetype, sparse_super,
// large_file, ext_attr; indirect block maps; extended attributes in blocks
// only, so the kernel's ext2 driver sees them). KindExt4 adds extents,
// flex_bg with all group metadata packed at the front, sparse_super2 (two
// backup superblocks) so that almost the whole filesystem is one contiguous
// free run for Writer.Reserve, huge_file, dir_nlink, extra_isize, in-inode
// extended attributes and an optional jbd2 journal. Neither uses
// metadata_csum, dir_index (directories are linear) or resize_inode.
//
// On-disk formats follow the kernel's Documentation/filesystems/ext4 and
// e2fsprogs; every image the tests build is checked with e2fsck -fn and
// debugfs.
package ext4
