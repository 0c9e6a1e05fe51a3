#!/bin/bash
# Drives the stand-in through the v1 (cOS) flows on a loop disk: reset
# from recovery, a system upgrade and a recovery-only upgrade. Run by
# TestLoopDeviceV1 inside unshare -m with a tmpfs on /run.
# Arguments: ELEMENTAL_BIN LOOP_DEV REGISTRY_HOST DISK_FILE
set -euo pipefail
BIN=$1 LOOP=$2 REG=$3
export ELEMENTAL_INSECURE_REGISTRY=1
fail() { echo "CHECK FAILED: $*" >&2; exit 1; }
check() { echo "check: $*"; }
mount --make-rprivate /
mount -t tmpfs tmpfs /run
mkdir -p /run/fake /run/cos /run/initramfs/cos-state
cmdline() { echo "$1" > /run/fake/cmdline; mount --bind /run/fake/cmdline /proc/cmdline; }
img_label() { e2label "$1"; }
img_cat() { debugfs -R "cat $2" "$1" 2>/dev/null; }

# --- recovery boot --------------------------------------------------------
touch /run/cos/recovery_mode
cmdline "root=LABEL=COS_RECOVERY cos-img/filename=/cOS/recovery.img"
mount -o ro ${LOOP}p3 /run/initramfs/cos-state
$BIN reset
mkdir -p /run/s && mount -o ro ${LOOP}p4 /run/s
[ "$(img_label /run/s/cOS/active.img)" = COS_ACTIVE ] || fail "active label after reset"
[ "$(img_label /run/s/cOS/passive.img)" = COS_PASSIVE ] || fail "passive label after reset"
img_cat /run/s/cOS/active.img /etc/os-release | grep -q cos1 || fail "active content after reset"
debugfs -R 'stat /usr/local' /run/s/cOS/active.img 2>/dev/null | grep -q 'Type: directory' || fail "v1 /usr/local mountpoint"
grep -q '^# cos grub cos1' /run/s/grub2/grub.cfg || fail "grub2/grub.cfg"
ls /run/s/grub2/x86_64-efi/loopback.mod /run/s/grub2/x86_64-efi/squash4.mod /run/s/grub2/x86_64-efi/xzio.mod > /dev/null || fail "grub modules"
env_list=$($BIN grub-editenv /run/s/grub_oem_env list)
echo "$env_list" | grep -qx 'active_label=COS_ACTIVE' || fail "v1 grub_oem_env: $env_list"
echo "$env_list" | grep -qx 'system_label=COS_SYSTEM' || fail "v1 grub_oem_env: $env_list"
grep -q 'passive:' /run/s/state.yaml || fail "state.yaml passive after reset"
findmnt -n -o OPTIONS /run/initramfs/cos-state | grep -q '^ro' || fail "recovery not remounted ro"
umount /run/s /run/initramfs/cos-state /proc/cmdline
rm /run/cos/recovery_mode
check "v1 reset made active.img, passive.img and grub2/"

# --- active boot: state mounted ro by the initrd ----------------------------
touch /run/cos/active_mode
cmdline "root=LABEL=COS_STATE cos-img/filename=/cOS/active.img"
mount -o ro ${LOOP}p4 /run/initramfs/cos-state
ST=/run/initramfs/cos-state
mkdir -p /run/booted && mount -o loop,ro $ST/cOS/active.img /run/booted
$BIN upgrade --system.uri docker:$REG/derivative:cos2
[ "$(img_label $ST/cOS/active.img)" = COS_ACTIVE ] || fail "active label after upgrade"
# The old active is still loop-mounted (booted): tune2fs -L goes through
# the kernel and reaches the file when the loop device is released.
umount /run/booted
[ "$(img_label $ST/cOS/passive.img)" = COS_PASSIVE ] || fail "passive label after upgrade"
img_cat $ST/cOS/active.img /etc/os-release | grep -q cos2 || fail "active content after upgrade"
img_cat $ST/cOS/passive.img /etc/os-release | grep -q cos1 || fail "passive content after upgrade"
[ ! -e $ST/cOS/transition.img ] && [ ! -e $ST/cOS/transition.imgTree ] || fail "transition leftovers"
e2fsck -fn $ST/cOS/active.img > /dev/null || fail "e2fsck active"
findmnt -n -o OPTIONS $ST | grep -q '^ro' || fail "state not remounted ro"
grep -A4 '^    active:' $ST/state.yaml | grep -q "derivative:cos2" || fail "state.yaml active"
grep -A4 '^    active:' $ST/state.yaml | grep -q "digest: sha256:" || fail "state.yaml active digest"
grep -A4 '^    passive:' $ST/state.yaml | grep -q "derivative:cos1" || fail "state.yaml passive"
$BIN grub-editenv $ST/grub_oem_env list | grep -qx 'default_menu_entry=Standin cos2' || fail "menu entry"
check "v1 upgrade rotated active to passive"

$BIN upgrade --recovery --recovery-system.uri docker:$REG/derivative:cos3
img_cat $ST/cOS/active.img /etc/os-release | grep -q cos2 || fail "v1 --recovery touched active"
mkdir -p /run/r && mount -o ro ${LOOP}p3 /run/r
[ "$(img_label /run/r/cOS/recovery.img)" = COS_SYSTEM ] || fail "recovery label"
img_cat /run/r/cOS/recovery.img /etc/os-release | grep -q cos3 || fail "recovery content"
grep -A4 'recovery:' /run/r/state.yaml | grep -q "derivative:cos3" || fail "recovery state.yaml"
umount /run/r
check "v1 --recovery upgraded only recovery"
echo ALL CHECKS PASSED
