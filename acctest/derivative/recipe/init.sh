#!/bin/sh
# /init of the test derivative's busybox initrd.
#
# It stands in for the dracut modules `elemental init` installs (contract
# §3.4) closely enough for boot tests: it honours the same kernel command
# line, mounts the same things at the same places, runs the stand-in
# `elemental` at the same stage, and leaves the same sentinels. The
# generation (1 or 2) is baked in at build time (/etc/elemental-initrd.conf),
# so a v2 initrd refuses a v1 command line and the reverse, like upstream.
#
# The root image is mounted read-only and nothing is written below /sysroot
# except through overlays: the disk builder creates the mountpoints.
# On failure it prints ELEMENTAL-INITRD-ERROR, then offers a shell for 30 s
# and powers off so that an unattended test fails fast instead of hanging.

PATH=/usr/sbin:/usr/bin:/sbin:/bin
export PATH

/bin/busybox mkdir -p /proc /sys /dev /run /tmp /sysroot /oem
/bin/busybox --install -s
mount -t proc -o nosuid,nodev,noexec proc /proc
mount -t sysfs -o nosuid,nodev,noexec sysfs /sys
mount -t devtmpfs -o mode=0755,nosuid devtmpfs /dev
# /run is a tmpfs so that it can be moved into the new root with everything
# mounted below it (state, ESP, persistent, overlay uppers).
mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /run
exec </dev/console >/dev/console 2>&1

GENERATION=2
# shellcheck disable=SC1091 # written by the image builder
. /etc/elemental-initrd.conf

log() { echo "elemental-initrd: $*"; }
warn() { echo "ELEMENTAL-INITRD-WARNING: $*"; }

fail() {
	echo "ELEMENTAL-INITRD-ERROR: $*"
	sleep 5
	echo "elemental-initrd: press Enter within 30 s for a shell, else power off"
	if read -r -t 30 _; then
		exec setsid cttyhack sh
	fi
	poweroff -f
}

# --- kernel modules, in dependency order (computed at build time) ---------
while read -r ko; do
	insmod "/lib/modules/$ko" 2>/dev/null || warn "insmod $ko failed"
done </lib/modules/load.order

# --- kernel command line ---------------------------------------------------
root=
mode=
image=
cosimg=
oemlabel=COS_OEM
oemtimeout=15
fsckmode=auto
cosmounts=
set -f
# shellcheck disable=SC2013 # words, not lines
for arg in $(cat /proc/cmdline); do
	case $arg in
	root=*) root=${arg#root=} ;;
	elemental.mode=*) mode=${arg#elemental.mode=} ;;
	elemental.image=*) image=${arg#elemental.image=} ;;
	elemental.oemlabel=* | rd.cos.oemlabel=*) oemlabel=${arg#*=} ;;
	elemental.oemtimeout=* | rd.cos.oemtimeout=*) oemtimeout=${arg#*=} ;;
	cos-img/filename=*) cosimg=${arg#cos-img/filename=} ;;
	rd.cos.mount=*) cosmounts="$cosmounts ${arg#rd.cos.mount=}" ;;
	fsck.mode=*) fsckmode=${arg#fsck.mode=} ;;
	elemental.debug | rd.debug) set -x ;;
	esac
done
set +f

[ -n "$root" ] || fail "no root= on the kernel command line"

if [ "$GENERATION" = 2 ]; then
	case $mode in
	active) image=.snapshots/active ;;
	passive | recovery) [ -n "$image" ] || fail "elemental.mode=$mode needs elemental.image=" ;;
	"") fail "no elemental.mode= on the kernel command line (v2 initrd)" ;;
	*) fail "unknown elemental.mode=$mode" ;;
	esac
	statedir=/run/initramfs/elemental-state
else
	[ -n "$cosimg" ] || fail "no cos-img/filename= on the kernel command line (v1 initrd)"
	# v1 takes the mode from the image file name.
	case $cosimg in
	*recovery*) mode=recovery ;;
	*passive*) mode=passive ;;
	*active*) mode=active ;;
	*) fail "cannot tell the mode from cos-img/filename=$cosimg" ;;
	esac
	image=$cosimg
	statedir=/run/initramfs/cos-state
fi
log "generation $GENERATION, mode $mode, root $root, image $image"

# The sentinels come first, as in upstream's cmdline hook, so that the
# stand-in elemental sees the mode at pre-rootfs. v2 writes /run/elemental
# and the legacy /run/cos copies; v1 only /run/cos (the stand-in tells the
# generations apart by them).
mkdir -p /run/cos
if [ "$GENERATION" = 2 ]; then
	mkdir -p /run/elemental
	: >"/run/elemental/${mode}_mode"
fi
: >"/run/cos/${mode}_mode"

# --- devices ---------------------------------------------------------------
# by_partname NAME: the block device whose GPT partition name is NAME. There
# is no udev here, but the kernel puts PARTNAME= in the uevent file.
by_partname() {
	for u in /sys/class/block/*/uevent; do
		if grep -qx "PARTNAME=$1" "$u"; then
			echo "/dev/$(sed -n 's/^DEVNAME=//p' "$u")"
			return 0
		fi
	done
	return 1
}

# find_dev SPEC: LABEL=, UUID=, PARTLABEL= or /dev/... to a device node.
find_dev() {
	case $1 in
	PARTLABEL=*) by_partname "${1#PARTLABEL=}" ;;
	/dev/*) [ -b "$1" ] && echo "$1" ;;
	*) findfs "$1" 2>/dev/null ;;
	esac
}

# wait_dev SPEC SECONDS: find_dev, retried while disks are being probed.
wait_dev() {
	i=0
	while [ "$i" -lt "$2" ]; do
		d=$(find_dev "$1") && [ -n "$d" ] && echo "$d" && return 0
		sleep 1
		i=$((i + 1))
	done
	return 1
}

# check DEV: e2fsck before mounting, like elemental-fsck with fsck.mode=force
# and fsck.repair=yes. Exit codes below 4 mean clean or repaired.
check() {
	[ "$fsckmode" = skip ] && return 0
	f=-p
	[ "$fsckmode" = force ] && f="-f -p"
	# shellcheck disable=SC2086 # two options on purpose
	e2fsck $f "$1" >/dev/null 2>&1
	rc=$?
	[ "$rc" -lt 4 ] || warn "e2fsck $1 exited $rc"
}

is_ext() { [ "$(dd if="$1" bs=1 skip=1080 count=2 2>/dev/null | od -An -tx1 | tr -d ' \n')" = 53ef ]; }

# --- state (or recovery) partition ----------------------------------------
statedev=$(wait_dev "$root" 30) || fail "root device $root not found"
is_ext "$statedev" && check "$statedev"
mkdir -p "$statedir"
# Mounted rw (upstream v1 mounts it ro): the stand-in writes upgrades here.
mount -o rw "$statedev" "$statedir" || fail "mounting $statedev at $statedir"

# --- OEM, then the pre-rootfs stage ---------------------------------------
if oemdev=$(wait_dev "LABEL=$oemlabel" "$oemtimeout"); then
	is_ext "$oemdev" && check "$oemdev"
	mount -o rw "$oemdev" /oem || warn "mounting $oemdev at /oem"
else
	warn "no OEM partition labelled $oemlabel"
fi

stage=pre-rootfs
[ "$GENERATION" = 1 ] && stage=rootfs
if [ -x /usr/bin/elemental ]; then
	# This is where the stand-in grows the last partition on first boot, so
	# it runs before persistent is mounted.
	/usr/bin/elemental run-stage "$stage" || warn "elemental run-stage $stage exited $?"
fi

# --- the root image -------------------------------------------------------
[ -e "$statedir/$image" ] || fail "image $image not found on $statedev"
mount -o ro,loop "$statedir/$image" /sysroot || fail "loop-mounting $image at /sysroot"

# --- ESP (v2 only, read-only) ----------------------------------------------
if [ "$GENERATION" = 2 ]; then
	mkdir -p /run/elemental/efi
	if efidev=$(find_dev PARTLABEL=efi); then
		mount -o ro "$efidev" /run/elemental/efi || warn "mounting $efidev at /run/elemental/efi"
	else
		warn "no partition named efi"
	fi
fi

# --- persistent ------------------------------------------------------------
# v2: PARTLABEL=persistent at /run/elemental/persistent; v1: the
# rd.cos.mount volumes, COS_PERSISTENT at /usr/local. Not in recovery.
pstate=
if [ "$mode" != recovery ]; then
	if [ "$GENERATION" = 2 ]; then
		mkdir -p /run/elemental/persistent
		if pdev=$(wait_dev PARTLABEL=persistent 10); then
			check "$pdev"
			mount -o rw "$pdev" /run/elemental/persistent &&
				pstate=/run/elemental/persistent/.state
		fi
		[ -n "$pstate" ] || warn "persistent partition not mounted"
	else
		for m in $cosmounts; do
			spec=${m%:*}
			dir=${m##*:}
			[ "$dir" = /oem ] && continue
			if pdev=$(wait_dev "$spec" 10); then
				check "$pdev"
				mount -o rw "$pdev" "/sysroot$dir" || warn "mounting $spec at $dir"
			else
				warn "$spec not found for $dir"
			fi
		done
		grep -q " /sysroot/usr/local " /proc/mounts && pstate=/sysroot/usr/local/.state
	fi
fi

# --- overlays ----------------------------------------------------------------
# overlay DIR BASE: DIR of the image gets a writable overlay whose upper and
# work dirs are BASE/<path-with-dashes>.overlay/{upper,work}.
overlay() {
	[ -d "/sysroot$1" ] || {
		log "no $1 in the image, no overlay for it"
		return 0
	}
	name=$(echo "${1#/}" | tr / -)
	mkdir -p "$2/$name.overlay/upper" "$2/$name.overlay/work"
	mount -t overlay overlay \
		-o "lowerdir=/sysroot$1,upperdir=$2/$name.overlay/upper,workdir=$2/$name.overlay/work" \
		"/sysroot$1" || fail "overlay on $1"
}

if [ "$GENERATION" = 2 ]; then
	ephemeral=/run/elemental/overlay
	rwpaths="/etc /var /srv"
	[ "$mode" = recovery ] && rwpaths="/etc /var /srv /root"
	persistent="/etc/systemd /etc/ssh /home /opt /root /var/log"
else
	ephemeral=/run/overlay
	rwpaths="/var /etc /srv"
	# v1 recovery skips the layout file, so the built-in defaults apply.
	[ "$mode" = recovery ] && rwpaths="/etc /root /home /opt /srv /var"
	persistent="/etc/systemd /etc/ssh /etc/iscsi /home /opt /root /usr/libexec /var/log /var/lib/NetworkManager"
fi
mkdir -p "$ephemeral"
mount -t tmpfs -o size=25% tmpfs "$ephemeral" || fail "tmpfs at $ephemeral"
for p in $rwpaths; do
	overlay "$p" "$ephemeral"
done
if [ -n "$pstate" ]; then
	for p in $persistent; do
		overlay "$p" "$pstate"
	done
fi

# The root image is read-only: /tmp needs a tmpfs of its own (the toolkit's
# reset and upgrade write temporary files there, in recovery too).
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /sysroot/tmp || warn "tmpfs at /tmp"

# --- hand over -----------------------------------------------------------
if grep -q " /oem " /proc/mounts; then
	mount --move /oem /sysroot/oem || warn "moving /oem (is /oem missing in the image?)"
fi
for d in /run /dev /proc /sys; do
	mount --move "$d" "/sysroot$d" || fail "moving $d into the new root"
done
log "switching root"
exec switch_root /sysroot /sbin/init
