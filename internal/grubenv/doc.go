// Package grubenv reads and writes GRUB environment blocks: the fixed-size
// files (grubenv, grub_oem_env) that GRUB's load_env and save_env use and
// that grub-editenv edits.
//
// It exists so that the disk builder can write the ESP's grub_oem_env and
// the OEM partition's grubenv without calling grub-editenv, and produce the
// same bytes that `grub-editenv FILE create` followed by `set k=v…` would.
// A block is exactly 1024 bytes: the signature line
// "# GRUB Environment Block\n", grub-editenv's warning comment line, one
// "key=value\n" line per variable in insertion order, then '#' padding.
// Values escape '\' and newline with a backslash, as GRUB's envblk.c does.
//
// GRUB's save_env rewrites the block in place, so a block must exist (at
// full size) before GRUB can store anything in it; see the disk contract
// §2.2 (grub_oem_env on the ESP, grubenv on COS_OEM).
package grubenv
