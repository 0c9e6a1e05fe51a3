#!/bin/sh
# boot-smoke.sh LAYOUT_DIR WORK_DIR [active|passive|recovery]
#
# Hand-made v1 or v2 disk from a built test derivative, booted under
# QEMU/OVMF (TCG), to check the derivative's own boot chain (shim → plain
# grub → grub.cfg → bootargs.cfg → busybox initrd → systemd → marker)
# without the product's disk builder. It follows the upstream build-disk
# recipe with standard tools (contract §7, §9): mkfs.ext2 -d images,
# mkfs.ext4 -d partitions, mkfs.vfat + mcopy ESP, sgdisk, mksquashfs. The
# recovery partition has a recovery system for v2 only (v1's recovery entry
# is not exercised). Needs root (extracting the layers keeps ownership).
#
# With SMOKE_SSH_KEY=<private key> it also logs in as root over SSH with the
# image's pinned host key. Exit 0 when the marker (and SSH) worked.
set -eu
layout=$1
work=$2
entry=${3:-active}
mkdir -p "$work"
tree=$work/tree
rm -rf "$tree" && mkdir -p "$tree"

# Apply the layers in manifest order, honouring whiteouts.
manifest=$(sed -n 's/.*"digest": *"sha256:\([0-9a-f]*\)".*/\1/p' "$layout/index.json")
layers=$(tr ',' '\n' <"$layout/blobs/sha256/$manifest" | sed -n 's/.*"digest": *"sha256:\([0-9a-f]*\)".*/\1/p' | tail -n +2)
for l in $layers; do
	blob=$layout/blobs/sha256/$l
	tar -tzf "$blob" | grep '\.wh\.' | while read -r wh; do
		rm -rf "$tree/$(dirname "$wh")/$(basename "$wh" | sed 's/^\.wh\.//')"
	done
	tar --xattrs --xattrs-include='*' --numeric-owner -xpzf "$blob" -C "$tree" --exclude='*.wh.*'
done
# CreateDirStructure (contract §2.1).
for d in run dev boot oem system etc/elemental/config.d proc sys tmp usr/local; do
	mkdir -p "$tree/$d"
done

# Generation: v1 images carry /etc/cos/grub.cfg only.
gen=2
[ -f "$tree/etc/elemental/grub.cfg" ] || gen=1
mb=$(du -sm "$tree" | cut -f1)
state=$work/state && rm -rf "$state" && mkdir -p "$state"
recovery=$work/recovery && rm -rf "$recovery" && mkdir -p "$recovery"
oem=$work/oem && rm -rf "$oem" && mkdir -p "$oem"
env=$work/grub_oem_env
esp=$work/esp.img && rm -f "$esp"
mkfs.vfat -n COS_GRUB -C "$esp" $((64 * 1024)) >/dev/null

# pad FILE: fill a GRUB env block up to 1024 bytes with '#'.
pad() { head -c $((1024 - $(wc -c <"$1"))) /dev/zero | tr '\0' '#' >>"$1"; }

# The mutable env on COS_OEM; "passive" selects the passive entry (v2: the
# entry id → snapshot number regexp and elemental.image=; v1: passive.img).
snaps=
{
	printf '# GRUB Environment Block\n'
	if [ "$entry" = passive ] && [ $gen = 2 ]; then
		printf 'saved_entry=passive1\n'
		snaps=1
	elif [ "$entry" = passive ]; then
		printf 'saved_entry=fallback\n'
	elif [ "$entry" = recovery ]; then
		printf 'next_entry=recovery\n'
	fi
} >"$oem/grubenv"
pad "$oem/grubenv"
{
	printf '# GRUB Environment Block\n'
	printf 'state_label=COS_STATE\nrecovery_label=COS_RECOVERY\noem_label=COS_OEM\n'
	printf 'persistent_label=COS_PERSISTENT\nefi_label=COS_GRUB\ntimeout=1\n'
	printf 'default_menu_entry=Elemental Test v%s\n' $gen
	if [ $gen = 2 ]; then
		printf 'default_fallback=0\npassive_snaps=%s\n' "$snaps"
	else
		printf 'active_label=COS_ACTIVE\npassive_label=COS_PASSIVE\nsystem_label=COS_SYSTEM\n'
	fi
} >"$env"
pad "$env"

if [ $gen = 2 ]; then
	# v2: snapshot + active symlink on STATE; grub.cfg and grub_oem_env on
	# the ESP next to shim, grub and MokManager.
	mkdir -p "$state/.snapshots/1"
	mkfs.ext2 -q -F -b 4096 -L EL_SNAP1 -d "$tree" "$state/.snapshots/1/snapshot.img" "$((mb + 256))M"
	ln -s 1/snapshot.img "$state/.snapshots/active"
	printf '%s\n' "state:" "    label: COS_STATE" "    snapshots:" "        1:" \
		"            source: dir:///smoke" "            digest: sha256:smoke" \
		"            active: true" >"$state/state.yaml"
	# v2.1+ recovery: squashfs system plus kernel, initrd and bootargs.cfg
	# next to it (contract §2.1).
	mkdir -p "$recovery/boot"
	mksquashfs "$tree" "$recovery/boot/recovery.img" -b 1024k -no-progress -quiet \
		-wildcards -e 'proc/*' 'sys/*' 'dev/*' 'run/*' 'tmp/*'
	k=$(readlink "$tree/boot/vmlinuz")
	i=$(readlink "$tree/boot/initrd")
	cp "$tree/boot/$k" "$tree/boot/$i" "$tree/etc/elemental/bootargs.cfg" "$recovery/boot/"
	ln -s "$k" "$recovery/boot/vmlinuz"
	ln -s "$i" "$recovery/boot/initrd"
	printf '%s\n' "recovery:" "    label: COS_RECOVERY" "    recovery:" "        source: dir:///smoke" \
		"        digest: sha256:smokerec" "        fs: squashfs" >"$recovery/state.yaml"
	bl=$tree/usr/lib/elemental/bootloader
	mmd -i "$esp" ::/EFI ::/EFI/BOOT
	mcopy -i "$esp" "$bl/shimx64.efi" ::/EFI/BOOT/BOOTX64.EFI
	mcopy -i "$esp" "$bl/grubx64.efi" "$bl/mmx64.efi" "$tree/etc/elemental/grub.cfg" ::/EFI/BOOT/
	mcopy -i "$esp" "$env" ::/grub_oem_env
else
	# v1: active (and passive) images, grub.cfg, modules and grub_oem_env on
	# STATE; the ESP has the SUSE-named files and a stub grub.cfg.
	mkdir -p "$state/cOS" "$state/grub2/x86_64-efi"
	mkfs.ext2 -q -F -b 4096 -L COS_ACTIVE -d "$tree" "$state/cOS/active.img" "$((mb + 256))M"
	if [ "$entry" = passive ]; then
		cp "$state/cOS/active.img" "$state/cOS/passive.img"
		tune2fs -L COS_PASSIVE "$state/cOS/passive.img" >/dev/null
	fi
	cp "$tree/etc/cos/grub.cfg" "$state/grub2/grub.cfg"
	for m in loopback squash4 xzio; do
		cp "$tree/usr/lib/grub/x86_64-efi/$m.mod" "$state/grub2/x86_64-efi/"
	done
	cp "$env" "$state/grub_oem_env"
	printf '%s\n' "state:" "    active:" "        source: dir:///smoke" "        source-metadata:" \
		"            digest: sha256:smoke1" "    passive:" "        source-metadata:" \
		"            digest: sha256:smoke1" >"$state/state.yaml"
	printf '%s\n' 'search --no-floppy --label --set=root COS_STATE' 'set prefix=($root)/grub2' \
		'configfile ($root)/grub2/grub.cfg' >"$work/stub.cfg"
	efi=$tree/usr/share/efi/x86_64
	mmd -i "$esp" ::/EFI ::/EFI/boot
	mcopy -i "$esp" "$efi/shim.efi" ::/EFI/boot/bootx64.efi
	mcopy -i "$esp" "$efi/grub.efi" "$efi/MokManager.efi" ::/EFI/boot/
	mcopy -i "$esp" "$work/stub.cfg" ::/EFI/boot/grub.cfg
fi

img=$work/disk.raw
rm -f "$img"
# Sizes in MiB: efi 64, oem 64, recovery and state their files + 128,
# persistent 256 (the contract's partition order and GPT names).
rmb=$(($(du -sm "$recovery" | cut -f1) + 128))
smb=$(($(du -sm "$state" | cut -f1) + 128))
truncate -s $((1 + 64 + 64 + rmb + smb + 256 + 1))M "$img"
sgdisk -n 1:1M:+64M -t 1:EF00 -c 1:efi -n 2:0:+64M -c 2:oem -n 3:0:+${rmb}M -c 3:recovery \
	-n 4:0:+${smb}M -c 4:state -n 5:0:0 -c 5:persistent "$img" >/dev/null

part() { # N file: write a partition image at its offset
	start=$(sgdisk -i "$1" "$img" | sed -n 's/^First sector: \([0-9]*\).*/\1/p')
	dd if="$2" of="$img" bs=512 seek="$start" conv=notrunc,sparse status=none
}
psize() { sgdisk -i "$1" "$img" | sed -n 's/^Partition size: \([0-9]*\) sectors.*/\1/p'; }
mkfs.ext4 -q -F -L COS_OEM -d "$oem" "$work/oem.img" "$(($(psize 2) / 2))k"
mkfs.ext4 -q -F -b 4096 -L COS_RECOVERY -d "$recovery" "$work/recovery.img" "$(($(psize 3) / 2))k"
mkfs.ext4 -q -F -b 4096 -L COS_STATE -d "$state" "$work/state.img" "$(($(psize 4) / 2))k"
mkfs.ext4 -q -F -L COS_PERSISTENT "$work/persistent.img" "$(($(psize 5) / 2))k"
part 1 "$esp"
part 2 "$work/oem.img"
part 3 "$work/recovery.img"
part 4 "$work/state.img"
part 5 "$work/persistent.img"
echo "v$gen disk $img, entry $entry"

port=${SMOKE_SSH_PORT:-2222}
cp /usr/share/OVMF/OVMF_VARS_4M.fd "$work/vars.fd"
log=$work/serial.log
rm -f "$log"
timeout 900 qemu-system-x86_64 -machine q35 -m 2048 -smp 2 -accel tcg -nographic -no-reboot \
	-drive if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd \
	-drive if=pflash,format=raw,file="$work/vars.fd" \
	-drive if=virtio,format=raw,file="$img" \
	-netdev user,id=n0,hostfwd=tcp:127.0.0.1:$port-:22 -device virtio-net-pci,netdev=n0 \
	-serial file:"$log" -display none -monitor none &
qpid=$!
i=0
ok=
while [ $i -lt 900 ]; do
	if grep -q 'ELEMENTAL-TEST-BOOTED' "$log" 2>/dev/null; then
		ok=1
		break
	fi
	if grep -q 'ELEMENTAL-INITRD-ERROR' "$log" 2>/dev/null || ! kill -0 "$qpid" 2>/dev/null; then
		break
	fi
	sleep 2
	i=$((i + 2))
done
grep -a 'ELEMENTAL-' "$log" || true
if [ -n "$ok" ] && [ -n "${SMOKE_SSH_KEY:-}" ]; then
	echo "[127.0.0.1]:$port $(cut -d' ' -f1,2 "$tree/etc/ssh/ssh_host_ed25519_key.pub")" >"$work/known_hosts"
	ssh -i "$SMOKE_SSH_KEY" -p "$port" -o UserKnownHostsFile="$work/known_hosts" \
		-o StrictHostKeyChecking=yes -o ConnectTimeout=30 root@127.0.0.1 \
		'cat /etc/elemental-test-version; findmnt -no SOURCE,FSTYPE /; findmnt -no FSTYPE /etc; ls /run/elemental' || ok=
fi
kill "$qpid" 2>/dev/null || true
if [ -n "$ok" ]; then
	echo "boot smoke: OK after ${i}s"
	exit 0
fi
tail -n 40 "$log"
echo "boot smoke: FAILED"
exit 1
