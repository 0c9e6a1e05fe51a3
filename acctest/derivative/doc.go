// Package derivative builds Elemental-compatible test derivative images from
// Debian 12 packages, for the acceptance tests and the demo.
//
// Real Elemental derivatives are openSUSE images with dracut initrds; the
// suite cannot depend on pulling them, and it needs images it controls: two
// generations (v1 "cOS" and v2 "elemental" layouts, contract §2–§3) and two
// versions of each (A and B) so that upgrades are visible. Build makes them
// as multi-layer OCI image layouts:
//
//  1. the shared base rootfs (mmdebstrap of bookworm, made once per recipe);
//  2. the generation's boot and toolkit parts: grub.cfg and bootargs.cfg
//     from the contract's templates, a plain grub-mkimage EFI binary next to
//     Debian's signed shim and MokManager (contract §9 explains why), a
//     busybox initrd whose /init honours the v1 or v2 command line, the
//     stand-in elemental CLI, SSH keys and the boot marker unit;
//  3. a small version layer (A or B) that also deletes base files, so that
//     whiteouts are exercised by every image consumer.
//
// Everything is cached under Options.CacheDir by a hash of every recipe
// input, so only the first build pays for mmdebstrap. Building needs root
// (mmdebstrap, chroot, reading the tree with its ownership) and network
// access to the Debian mirror; callers skip when either is missing.
//
// scripts/boot-smoke.sh boots a built layout on a hand-made v1 or v2 disk
// under QEMU/OVMF (standard tools, no product code) and checks the boot
// marker and root SSH with the pinned host key: it is how the recipe's boot
// chain was verified, independently of the disk builder.
//
// The recipe lives in recipe/ as plain files (shell, GRUB and systemd
// snippets) so that it can be read and changed without reading Go.
package derivative
