// Package acceptance runs the plugin under the real packer binary: packer
// validate of every example, and packer build of the examples against a
// synthetic derivative and the in-process AWS and GCP emulators. The tests
// run only with PACKER_ACC=1 (make testacc), because they need the packer
// binary (make packer) and take tens of seconds.
//
// A structural check says nothing about whether firmware, shim, GRUB and
// the initrd accept what packer built, so TestBuildBoots also builds the
// v2 test derivative of acctest/derivative with packer and boots the disk
// artifact under QEMU/OVMF (acctest/qemu) until the active system says it
// booted. It takes minutes, skips under -short and without root, QEMU,
// OVMF or mmdebstrap, and must run alone among QEMU tests:
//
//	flock /tmp/qemu.lock env PACKER_ACC=1 go test -run TestBuildBoots ./packer-plugin/acceptance
package acceptance
