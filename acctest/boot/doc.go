// Package boot holds the boot proof of issue 3: disks written by the
// installer core from the test derivatives (acctest/derivative) are booted
// under QEMU/OVMF (acctest/qemu) and driven through the lifecycle the disk
// contract promises (shared spec elemental-disk-contract.md §3.3, §3.4, §4),
// for toolkit generations v1 and v2:
//
//  1. the first boot reaches the active system with the contract's kernel
//     command line, a read-only root and writable /etc and /var;
//  2. persistent paths survive a reboot, other /etc changes do not;
//  3. the last partition grows to fill a larger virtual disk;
//  4. next_entry=recovery in (oem)/grubenv boots recovery exactly once;
//  5. an upgrade from the loopback registry makes B active and A passive,
//     and GRUB falls back to passive when the active image is broken;
//  6. a reset from recovery brings back a clean active system.
//
// A passing structural check says nothing about whether firmware, shim,
// GRUB, the initrd and systemd accept a disk; these tests do. They are
// slow (every boot is a full UEFI boot under TCG on the test machines), so
// the package has only tests, skips under -short, and needs root,
// qemu-system-x86_64, OVMF and mmdebstrap.
//
// Cost drives the layout: each generation's disk is written once per test
// binary run, and one VM per generation walks all six steps in a chain
// (TestBoot/v1, TestBoot/v2) that reuses the reboots between steps, so the
// package needs 12 boots instead of 26; the QEMU harness presses Enter at
// GRUB's menu countdown, except for the boot that must fall back. Steps
// are subtests, so a report still names which promise broke. Run with -v
// to see timings.
package boot
