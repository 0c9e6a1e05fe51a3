// Command elemental is a TEST STAND-IN for the Elemental toolkit CLI
// (github.com/rancher/elemental-toolkit). It is NOT the toolkit and must
// never ship in a real image.
//
// It exists because the acceptance tests ("boot proof") need test
// derivatives built from Debian parts that behave, on disk, the way the
// disk contract (shared spec elemental-disk-contract.md §2 and §4) says
// the real toolkit does: `upgrade` writes a new snapshot (v2) or a new
// active.img (v1), `reset` rebuilds the state partition from the
// recovery image, `state` prints state.yaml, `run-stage` applies the
// layout.expand_partition step on first boot, and exit codes follow §4.5.
// That lets the builder's disks be proven bootable, upgradable and
// resettable without pulling openSUSE-based toolkit images.
//
// The derivative recipe builds it static (CGO_ENABLED=0) into the test
// images as /usr/bin/elemental, both in the root filesystem and in the
// initrd. It shells out to mkfs.ext2/ext4, tune2fs, e2fsck, resize2fs,
// mount, umount, cp and (for a squashfs recovery) mksquashfs, which the
// test images provide.
//
// Generation: v2 behaviour when /run/elemental/*_mode exists or
// /etc/elemental exists; v1 when /run/cos/*_mode exists without the v2
// sentinels, or /etc/cos exists without /etc/elemental.
package main
