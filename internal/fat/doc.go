// Package fat writes FAT12, FAT16 and FAT32 filesystems (with VFAT long
// file names) from a stream of rootfs entries, for the EFI system
// partition.
//
// It exists instead of go-diskfs's FAT32 writer and mkfs.vfat+mcopy for
// three reasons. Output must be reproducible, and go-diskfs stamps wall-clock
// times and random volume IDs. Upstream Elemental runs `mkfs.vfat` without
// -F, which makes the default 64 MiB ESP FAT16, while go-diskfs only writes
// FAT32. And the installer hands every filesystem the same single pass of
// entries (see package rootfs), so file data has to go straight from the
// stream to its clusters, with no staging directory.
//
// The layout follows Microsoft's FAT specification (fatgen103): boot sector
// with BPB, FSInfo and backup boot sector on FAT32, two FAT copies, a fixed
// root directory on FAT12/16. Geometry (FAT type, cluster size, 512 root
// entries, data area aligned to the cluster size) is chosen like mkfs.fat
// 4.2 chooses it. Short 8.3 names are generated like Linux's vfat driver
// with its default shortname=mixed: a name that is a valid upper-case 8.3
// name is stored alone; any other name gets long-name entries and a short
// alias with a "~N" tail when it had to be shortened. Only directories and
// regular files exist on FAT; other entry types are refused.
//
// Files are laid out contiguously in arrival order as their data is
// written; directories are laid out when the Writer is closed, because
// entries may arrive in any order and parents may come after children.
package fat
