// Package inspect recognises an Elemental derivative while its root
// filesystem streams past: which toolkit generation it follows, where its
// kernel, initrd, GRUB configuration, EFI binaries and GRUB modules are, and
// what its os-release says. It is a rootfs.Sink so that the installer's
// header pass doubles as the validation pass, and it keeps the bytes of the
// few small boot files the EFI and state partitions need (so they are not
// read twice) while recording only metadata for everything else.
//
// The search rules are those of the toolkit itself (contract §3.1–3.3, §6):
// the first match in pattern order wins, symlinks are resolved inside the
// image root, and every missing part is reported in one error that names the
// paths searched.
package inspect
