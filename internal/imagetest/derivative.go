package imagetest

import (
	"fmt"
	"strings"

	"github.com/elemental-suite/elemental/internal/rootfs"
)

// KernelVersion is the kernel version of every Derivative.
const KernelVersion = "6.1.0-test"

// WhitedOut is the base-layer file that the top layer of a Derivative
// deletes, and OpaqueDir the directory whose lower contents it hides (only
// OpaqueDir/c survives).
const (
	WhitedOut = "etc/obsolete.conf"
	OpaqueDir = "var/lib/cache"
)

// Derivative returns the layers (base, boot, top) of a minimal but complete
// Elemental derivative of generation gen (1 or 2; anything else is
// treated as 2) and the given version: what the installer needs to detect
// the generation and find the kernel, initrd, GRUB configuration, EFI
// binaries and GRUB modules (contract §3.1–3.3 and §6).
func Derivative(gen int, version string) []Layer {
	return []Layer{baseLayer(version), bootLayer(gen), topLayer()}
}

func reg(p, data string) File { return File{Path: p, Type: rootfs.TypeReg, Data: []byte(data)} }

func exe(p, data string) File {
	return File{Path: p, Type: rootfs.TypeReg, Mode: 0o755, Data: []byte(data)}
}

func symlink(p, target string) File { return File{Path: p, Type: rootfs.TypeSymlink, Linkname: target} }

func baseLayer(version string) Layer {
	k := KernelVersion
	return Layer{
		{Path: "./", Type: rootfs.TypeDir},
		reg("etc/os-release", fmt.Sprintf("NAME=\"Elemental Test\"\nVERSION=%q\nID=elemental-test\n"+
			"PRETTY_NAME=\"Elemental Test %s\"\nGRUB_ENTRY_NAME=\"Elemental Test %s\"\n", version, version, version)),
		reg(WhitedOut, "obsolete=true\n"),
		reg(OpaqueDir+"/a", "a\n"),
		reg(OpaqueDir+"/b", "b\n"),
		symlink("lib", "usr/lib"),
		reg("usr/lib/modules/"+k+"/kernel/x.ko", "fake module\n"),
		reg("boot/vmlinuz-"+k, "MZ fake kernel "+k+"\n"),
		reg("boot/initrd-"+k, "fake initrd "+k+"\n"),
		symlink("boot/vmlinuz", "vmlinuz-"+k),
		symlink("boot/initrd", "initrd-"+k),
		exe("usr/bin/elemental", "#!/bin/sh\necho elemental test\n"),
	}.WithParents()
}

func bootLayer(gen int) Layer {
	mods := []string{"loopback", "squash4", "xzio"}
	var l Layer
	if gen == 1 {
		l = Layer{
			reg("etc/cos/grub.cfg", grubV1),
			reg("etc/cos/bootargs.cfg", bootargsV1),
			reg("usr/share/efi/x86_64/shim.efi", "MZ fake shim\n"),
			reg("usr/share/efi/x86_64/grub.efi", "MZ fake grub\n"),
			reg("usr/share/efi/x86_64/MokManager.efi", "MZ fake mokmanager\n"),
		}
	} else {
		l = Layer{
			reg("etc/elemental/grub.cfg", grubV2),
			reg("etc/elemental/bootargs.cfg", bootargsV2),
			reg("usr/lib/elemental/bootloader/shimx64.efi", "MZ fake shim\n"),
			reg("usr/lib/elemental/bootloader/grubx64.efi", "MZ fake grub\n"),
			reg("usr/lib/elemental/bootloader/mmx64.efi", "MZ fake mokmanager\n"),
		}
	}
	for _, m := range mods {
		l = append(l, reg("usr/lib/grub/x86_64-efi/"+m+".mod", "fake grub module "+m+"\n"))
	}
	return l.WithParents()
}

func topLayer() Layer {
	return Layer{
		{Path: WhitedOut, Whiteout: true},
		{Path: OpaqueDir, Type: rootfs.TypeDir, Mode: 0o750},
		{Path: OpaqueDir, Opaque: true},
		reg(OpaqueDir+"/c", "c\n"),
	}.WithParents()
}

const grubV2 = `set timeout=10
set env_file="/grubenv"
set oem_env_file="/grub_oem_env"
load_env -f "${oem_env_file}"
set display_name="${default_menu_entry:-Elemental}"
insmod all_video
insmod loopback
insmod squash4
menuentry "${display_name}" --id active {
  set mode=active
  search --no-floppy --label --set=root ${state_label}
  loopback loop /.snapshots/active
  source (loop)/etc/elemental/bootargs.cfg
  linux (loop)${kernel} ${kernelcmd} ${extra_cmdline} ${extra_active_cmdline}
  initrd (loop)${initramfs}
}
`

const bootargsV2 = `set kernel=/boot/vmlinuz
set initramfs=/boot/initrd
if [ "${mode}" == "recovery" ]; then
  set kernelcmd="console=tty1 console=ttyS0 root=LABEL=${recovery_label} elemental.image=/boot/recovery.img elemental.mode=recovery elemental.oemlabel=${oem_label} security=selinux enforcing=0"
else
  set kernelcmd="console=tty1 console=ttyS0 root=LABEL=${state_label} elemental.mode=${mode} elemental.oemlabel=${oem_label} panic=5 security=selinux fsck.mode=force fsck.repair=yes"
fi
`

const grubV1 = `set timeout=10
set env_file="/grub_oem_env"
load_env -f "${env_file}"
set loopdev="loop0"
menuentry "cOS" --id cos {
  search --no-floppy --label --set=root ${state_label}
  set img=/cOS/active.img
  loopback $loopdev /$img
  source ($loopdev)/etc/cos/bootargs.cfg
  linux ($loopdev)$kernel $kernelcmd
  initrd ($loopdev)$initramfs
}
`

var bootargsV1 = strings.Join([]string{
	`set kernel=/boot/vmlinuz`,
	`set initramfs=/boot/initrd`,
	`if [ -n "$recovery_mode" ]; then`,
	`  set kernelcmd="console=tty1 console=ttyS0 root=LABEL=$recovery_label cos-img/filename=$img security=selinux selinux=0 rd.neednet=1 rd.cos.oemlabel=COS_OEM"`,
	`else`,
	`  set kernelcmd="console=tty1 console=ttyS0 root=LABEL=$state_label cos-img/filename=$img panic=5 security=selinux selinux=1 rd.neednet=1 rd.cos.oemlabel=COS_OEM fsck.mode=force fsck.repair=yes"`,
	`fi`, ``,
}, "\n")
