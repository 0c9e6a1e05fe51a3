// Package qemu is the acceptance-test harness that boots a disk image under
// QEMU with OVMF (UEFI) firmware and talks to the guest over its serial
// console and SSH.
//
// It exists so the "boot proof" tests can show that a disk the builder
// wrote really boots, upgrades and resets, rather than only passing
// structural checks. The base disk is never modified: every VM runs on a
// qcow2 copy-on-write overlay in a private temporary directory, with its
// own writable copy of the OVMF variable store, so one built disk can be
// booted by many tests.
//
// Design points:
//   - Acceleration: KVM is used only when a probe boot of OVMF under KVM
//     produces serial output (on some hosts /dev/kvm exists but KVM hangs
//     or aborts); the probe runs once per process. Otherwise TCG.
//   - Serial: the guest's first serial port goes to Options.Log and to an
//     in-memory line buffer that WaitFor scans. ANSI escape sequences and
//     carriage returns are stripped from the buffered lines (not from the
//     log file).
//   - GRUB menu: when the menu countdown appears on serial, the harness
//     presses Enter on the serial console (QEMU's stdin chardev), as a
//     user accepting the default entry would, so a boot does not wait the
//     toolkit's 10 s menu timeout. Options.KeepMenuTimeout and
//     VM.SetMenuEnter turn that off for boots that must reach GRUB's
//     fallback entries (GRUB falls back only from an entry it started by
//     itself). Measured with make demo under TCG on a lightly loaded
//     2-core machine: 40.7 s firmware to marker before, 32.4 s after.
//     Other knobs measured there gave nothing beyond noise (-cpu max
//     cost 6 s of QEMU CPU time; smm=off and no iPXE ROM on virtio-net
//     were within ±3 s), so the command line is unchanged.
//   - Network: QEMU user-mode networking. Host port forwarding on a free
//     loopback port reaches the guest's sshd; the guest reaches services
//     on the host's loopback (such as the test registry) at 10.0.2.2.
//   - SSH pins the guest's host key; it never accepts an unknown key.
//   - Guest reboots are followed, so upgrade and reset flows can be
//     tested across them, but not by QEMU's own warm reset: QEMU runs
//     with -no-reboot and the harness starts a fresh QEMU process on the
//     same overlay, variable store and SSH port when the guest resets,
//     as a power cycle would. A CI run under KVM showed why: the guest
//     printed "reboot: machine restart" and the VM stayed silent for the
//     remaining 18 minutes. A guest power-off ("reboot: Power down")
//     ends the VM.
//   - QEMU runs in its own process group; Close (and context
//     cancellation) kill the whole group, and StartT registers Close with
//     t.Cleanup so nothing outlives a failing test.
package qemu
