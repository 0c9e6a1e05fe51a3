#!/bin/bash
# Drives the stand-in through reset, two upgrades and a partition grow on
# a real (loop) disk with the v2 layout. Run by TestLoopDeviceV2 inside a
# private mount namespace (unshare -m) with a tmpfs on /run, so nothing
# leaks to the host. Arguments: ELEMENTAL_BIN LOOP_DEV REGISTRY_HOST DISK_FILE
set -euo pipefail
BIN=$1 LOOP=$2 REG=$3 DISKFILE=$4
export ELEMENTAL_INSECURE_REGISTRY=1
fail() { echo "CHECK FAILED: $*" >&2; exit 1; }
check() { echo "check: $*"; }
mount --make-rprivate /
mount -t tmpfs tmpfs /run
mkdir -p /run/fake /oem
cmdline() { echo "$1" > /run/fake/cmdline; mount --bind /run/fake/cmdline /proc/cmdline; }
uncmdline() { umount /proc/cmdline; }

# --- "recovery boot": recovery partition as root, ESP ro, OEM rw -------
mkdir -p /run/elemental /run/initramfs/elemental-state /run/elemental/efi
touch /run/elemental/recovery_mode
cmdline "root=LABEL=COS_RECOVERY elemental.mode=recovery elemental.image=recovery"
mount ${LOOP}p3 /run/initramfs/elemental-state
mount -o ro ${LOOP}p1 /run/elemental/efi
mount ${LOOP}p2 /oem

set +e
$BIN upgrade --system oci:$REG/derivative:nope > /run/fake/out 2>&1
rc=$?
set -e
[ $rc = 18 ] || fail "upgrade from a missing image: rc $rc, want 18: $(cat /run/fake/out)"
check "pull failure exits 18"

$BIN reset
grep -q 'elemental.mode=recovery' /proc/cmdline
mkdir -p /run/s && mount -o ro ${LOOP}p4 /run/s
[ "$(readlink /run/s/.snapshots/active)" = 1/snapshot.img ] || fail "active after reset"
[ "$(e2label /run/s/.snapshots/1/snapshot.img)" = EL_SNAP1 ] || fail "snapshot 1 label"
e2fsck -fn /run/s/.snapshots/1/snapshot.img > /dev/null || fail "e2fsck snapshot 1"
debugfs -R 'cat /etc/os-release' /run/s/.snapshots/1/snapshot.img 2>/dev/null | grep -q 'v1' || fail "snapshot 1 content"
grep -q 'fromAction: reset' /run/s/state.yaml || fail "state.yaml fromAction reset"
grep -q 'fromAction: reset' /run/initramfs/elemental-state/state.yaml || fail "recovery state.yaml updated"
umount /run/s
check "reset made snapshot 1"
findmnt -n -o OPTIONS /run/elemental/efi | grep -q '^ro' || fail "ESP not remounted ro after reset"
[ "$($BIN grub-editenv /run/elemental/efi/grub_oem_env list | grep default_fallback)" = "default_fallback=0 1" ] || fail "fallback after reset"
grep -q '^# grub v1' /run/elemental/efi/EFI/BOOT/grub.cfg || fail "grub.cfg not copied by reset"
umount /run/initramfs/elemental-state /run/elemental/efi
uncmdline; rm /run/elemental/recovery_mode

# --- "active boot": state as root partition ------------------------------
touch /run/elemental/active_mode
cmdline "root=LABEL=COS_STATE elemental.mode=active elemental.image=active"
mount ${LOOP}p4 /run/initramfs/elemental-state
mount -o ro ${LOOP}p1 /run/elemental/efi
ST=/run/initramfs/elemental-state

$BIN upgrade --system oci:$REG/derivative:v2 --snapshot-labels build=2
[ "$(readlink $ST/.snapshots/active)" = 2/snapshot.img ] || fail "active after upgrade 1"
[ "$(e2label $ST/.snapshots/2/snapshot.img)" = EL_SNAP2 ] || fail "snapshot 2 label"
[ -d $ST/.snapshots/1 ] || fail "snapshot 1 removed too early"
[ ! -e $ST/.snapshots/2/snapshot.workDir ] || fail "workDir left behind"
e2fsck -fn $ST/.snapshots/2/snapshot.img > /dev/null || fail "e2fsck snapshot 2"
stat_out=$(debugfs -R 'stat /usr/bin/suid' $ST/.snapshots/2/snapshot.img 2>/dev/null)
echo "$stat_out" | grep -q 'Mode:  04755' || fail "setuid mode lost: $stat_out"
debugfs -R 'stat /etc/shadow' $ST/.snapshots/2/snapshot.img 2>/dev/null | grep -q 'Group:    42' || fail "group of /etc/shadow lost"
debugfs -R 'ea_list /etc/xattr-file' $ST/.snapshots/2/snapshot.img 2>/dev/null | grep -q 'user.test' || fail "xattr lost"
for d in run dev boot oem system proc sys tmp etc/elemental/config.d; do
  debugfs -R "stat /$d" $ST/.snapshots/2/snapshot.img 2>/dev/null | grep -q 'Type: directory' || fail "mountpoint /$d missing"
done
env_list=$($BIN grub-editenv /run/elemental/efi/grub_oem_env list)
echo "$env_list" | grep -qx 'default_fallback=0 1 2' || fail "fallback after upgrade 1: $env_list"
echo "$env_list" | grep -qx 'passive_snaps=1' || fail "passive_snaps after upgrade 1: $env_list"
echo "$env_list" | grep -qx 'default_menu_entry=Standin v2' || fail "menu entry: $env_list"
findmnt -n -o OPTIONS /run/elemental/efi | grep -q '^ro' || fail "ESP not remounted ro"
grep -A8 '^        2:' $ST/state.yaml | grep -q "source: oci://$REG/derivative:v2" || fail "state.yaml source"
grep -A8 '^        2:' $ST/state.yaml | grep -q 'digest: sha256:' || fail "state.yaml digest"
grep -A8 '^        2:' $ST/state.yaml | grep -q 'build: "2"' || fail "state.yaml labels"
$BIN state | grep -q 'fromAction: upgrade' || fail "elemental state"
check "upgrade 1 made snapshot 2"

# Pretend snapshot 2 is loop-mounted (booted); upgrade 2 also upgrades recovery.
mkdir -p /run/snap2 && mount -o loop,ro $ST/.snapshots/2/snapshot.img /run/snap2
$BIN upgrade --system oci:$REG/derivative:v3 --recovery
[ "$(readlink $ST/.snapshots/active)" = 3/snapshot.img ] || fail "active after upgrade 2"
[ ! -e $ST/.snapshots/1 ] || fail "snapshot 1 kept beyond max-snaps"
[ -e $ST/.snapshots/2/snapshot.img ] || fail "snapshot 2 (in use) deleted"
env_list=$($BIN grub-editenv /run/elemental/efi/grub_oem_env list)
echo "$env_list" | grep -qx 'passive_snaps=2' || fail "passive_snaps after upgrade 2: $env_list"
grep -q '^        1:' $ST/state.yaml && fail "deleted snapshot 1 still in state.yaml"
mkdir -p /run/r && mount -o ro ${LOOP}p3 /run/r
[ -f /run/r/boot/recovery.img ] || fail "recovery.img missing"
[ "$(readlink /run/r/boot/vmlinuz)" = vmlinuz-6.1.0-test ] || fail "recovery kernel link"
[ "$(cat /run/r/boot/vmlinuz-6.1.0-test)" = "kernel v3" ] || fail "recovery kernel content"
[ ! -e /run/r/boot-old ] && [ ! -e /run/r/boot-transition ] || fail "recovery rotation leftovers"
unsquashfs -cat /run/r/boot/recovery.img etc/os-release | grep -q v3 || fail "recovery image content"
grep -A6 'recovery:' /run/r/state.yaml | grep -q "derivative:v3" || fail "recovery state.yaml"
umount /run/r /run/snap2
check "upgrade 2 made snapshot 3 and upgraded recovery"
umount $ST /run/elemental/efi

# --- grow the persistent partition on a bigger disk ---------------------
truncate -s +512M $DISKFILE
losetup -c $LOOP
before=$(blockdev --getsize64 ${LOOP}p5)
cat > /oem/00_grow.yaml <<'YIP'
name: grow
stages:
  rootfs:
    - name: expand persistent
      layout:
        device:
          label: COS_PERSISTENT
        expand_partition:
          size: 0
YIP
$BIN run-stage --strict rootfs
after=$(blockdev --getsize64 ${LOOP}p5)
[ $after -gt $((before + 500*1024*1024)) ] || fail "partition not grown: $before -> $after"
sgdisk -v $LOOP | grep -q 'No problems found' || fail "sgdisk -v after grow: $(sgdisk -v $LOOP)"
fs=$(dumpe2fs -h ${LOOP}p5 2>/dev/null | awk -F: '/^Block count/{c=$2} /^Block size/{s=$2} END{print c*s}')
[ $fs -gt $((after - 4*1024*1024)) ] || fail "filesystem not grown: $fs of $after"
$BIN run-stage --strict rootfs | grep -q 'Grew partition' && fail "second run-stage grew again"
check "run-stage grew persistent from $before to $after bytes"
echo ALL CHECKS PASSED
