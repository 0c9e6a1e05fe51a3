// Package ext4 writes ext2 and ext4 filesystem images from a stream of
// rootfs entries, in one pass, straight into an io.WriterAt region.
//
// File data goes to its final blocks as it arrives (blocks are handed out
// sequentially, all-zero blocks become holes), and memory grows neither
// with file data nor with the number of files: when a file's writer
// closes, its block map is written and its inode, final but for the link
// count, is encoded into a temporary file, where its directory entry
// already is (issue 7: peak RSS flat in image size). Only directories and
// hardlinks stay in memory. Close reads the directory entries back per
// directory, resolves hardlinks, and writes directories, inode tables
// (copied from the temporary file with link counts patched on the way),
// bitmaps, group descriptors and superblocks. Every byte of the region is
// written at most once, in whole blocks but for the superblocks, so the
// output can be streamed (a block can be passed on once written).
// Nothing is written where nothing is allocated, so the output stays
// sparse; the region must therefore read as zeros beforehand (a new or
// truncated file).
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
