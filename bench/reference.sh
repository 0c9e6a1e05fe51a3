#!/bin/bash
# reference.sh: the upstream build-disk approach, for comparison with the
# core. Runs as root (tar keeps owners, devices and xattrs only as root).
#
#   1. flatten the image to a directory (bench extract = go-containerregistry
#      mutate.Extract, piped into tar -x as root)
#   2. mkfs.ext2 -d: the snapshot image from the directory
#   3. mksquashfs (gzip, -b 1024k): the recovery image from the directory
#   4. mkfs.ext4 -d: one image per ext4 partition from a staging directory
#   5. mkfs.vfat + mcopy: the ESP
#   6. concatenate the partition images (dd conv=sparse) + sgdisk, fsync
#
# Environment: BENCH (the bench binary), LAYOUT, TAG, WORK (an empty
# scratch directory), OUT (the disk to write), and the partition sizes in
# MiB taken from the core's disk, so both disks have the same layout:
# EFI_MIB OEM_MIB REC_MIB STATE_MIB PER_MIB.
set -euo pipefail
: "${BENCH:?}" "${LAYOUT:?}" "${TAG:?}" "${WORK:?}" "${OUT:?}"
: "${EFI_MIB:?}" "${OEM_MIB:?}" "${REC_MIB:?}" "${STATE_MIB:?}" "${PER_MIB:?}"

# stage NAME: report the time since the previous stage on stderr.
t0=$EPOCHREALTIME
stage() {
	local t=$EPOCHREALTIME
	awk -v n="$1" -v a="$t" -v b="$t0" 'BEGIN { printf "stage %s %.3f\n", n, a - b }' >&2
	t0=$t
}

root=$WORK/root
mkdir -p "$root" "$WORK/state/.snapshots/1" "$WORK/recovery/boot" "$WORK/oem" "$WORK/persistent" "$WORK/parts"

# 1. flatten
"$BENCH" extract "$LAYOUT" "$TAG" |
	tar -x -p --numeric-owner --xattrs --xattrs-include='*' -C "$root"
stage flatten

# 2. snapshot image: the tree's size plus 10% and 64 MiB, mke2fs's inode ratio
tree_mib=$(du -s -B1M --apparent-size "$root" | cut -f1)
snap_mib=$((tree_mib * 11 / 10 + 64))
mkfs.ext2 -q -F -t ext2 -L EL_SNAP1 -d "$root" "$WORK/state/.snapshots/1/snapshot.img" "${snap_mib}M"
ln -s 1/snapshot.img "$WORK/state/.snapshots/active"
printf 'date: "2023-11-14T22:13:20Z"\nstate:\n  label: COS_STATE\n' >"$WORK/state/state.yaml"
stage mkfs.ext2-snapshot

# 3. recovery image, with the kernel and initrd beside it
mksquashfs "$root" "$WORK/recovery/boot/recovery.img" -comp gzip -b 1024k -noappend -no-progress -quiet >/dev/null
for f in vmlinuz initrd; do
	if [ -e "$root/boot/$f" ]; then cp -L "$root/boot/$f" "$WORK/recovery/boot/$f"; fi
done
printf 'next_entry=\nsaved_entry=\n' >"$WORK/oem/grub_oem_env"
stage mksquashfs-recovery

# 4. ext4 partitions from staging directories
mkpart() { # name label dir MiB
	mkfs.ext4 -q -F -L "$2" -d "$3" "$WORK/parts/$1.img" "${4}M"
}
mkpart oem COS_OEM "$WORK/oem" "$OEM_MIB"
mkpart recovery COS_RECOVERY "$WORK/recovery" "$REC_MIB"
mkpart state COS_STATE "$WORK/state" "$STATE_MIB"
mkpart persistent COS_PERSISTENT "$WORK/persistent" "$PER_MIB"
stage mkfs.ext4-partitions

# 5. ESP: GRUB, shim and MokManager of the image
mkfs.vfat -C -n COS_GRUB "$WORK/parts/efi.img" $((EFI_MIB * 1024)) >/dev/null
mmd -i "$WORK/parts/efi.img" ::EFI ::EFI/BOOT ::EFI/ELEMENTAL
for f in "$root"/usr/lib/elemental/bootloader/* "$root"/usr/share/efi/x86_64/*; do
	if [ -f "$f" ]; then mcopy -i "$WORK/parts/efi.img" "$f" ::EFI/BOOT/; fi
done
if [ -f "$root/etc/elemental/grub.cfg" ]; then
	mcopy -i "$WORK/parts/efi.img" "$root/etc/elemental/grub.cfg" ::EFI/ELEMENTAL/grub.cfg
fi
stage esp

# 6. concatenate and partition
total=$((1 + EFI_MIB + OEM_MIB + REC_MIB + STATE_MIB + PER_MIB + 1))
rm -f "$OUT"
truncate -s "${total}M" "$OUT"
off=1
args=(-o)
n=1
for p in efi:$EFI_MIB:EF00 oem:$OEM_MIB:8300 recovery:$REC_MIB:8300 state:$STATE_MIB:8300 persistent:$PER_MIB:8300; do
	IFS=: read -r name mib type <<<"$p"
	dd if="$WORK/parts/$name.img" of="$OUT" bs=1M seek="$off" conv=notrunc,sparse status=none
	args+=(-n "$n:$((off * 2048)):$(((off + mib) * 2048 - 1))" -t "$n:$type" -c "$n:$name")
	off=$((off + mib))
	n=$((n + 1))
done
sgdisk "${args[@]}" "$OUT" >/dev/null
sync "$OUT"
stage assemble+fsync
