#!/bin/sh
# base.sh OUT.tar PACKAGES MIRROR
#
# Builds the shared base rootfs of every test derivative as a tarball with
# mmdebstrap. Why these choices:
#  - --variant=minbase plus an explicit package list keeps a cold build to a
#    few minutes; recommends are off so nothing unlisted sneaks in.
#  - docs, man pages, locales and kernel drivers no test VM uses are dropped
#    with dpkg path excludes (copyright files are kept).
#  - update-initramfs is diverted to /bin/true before the kernel is installed:
#    the derivative ships its own busybox initrd, so running initramfs-tools
#    would only cost time and space.
#  - SOURCE_DATE_EPOCH is honoured by mmdebstrap (set by the Go caller).
set -eu
out=$1
pkgs=$(grep -v '^#' "$2" | grep -v '^$' | paste -sd, -)
mirror=$3

excl=""
for p in /usr/share/man/ /usr/share/info/ /usr/share/locale/ /usr/share/doc/ \
         /usr/share/lintian/ /usr/share/bug/ \
         /lib/modules/*/kernel/sound/ /lib/modules/*/kernel/drivers/gpu/ \
         /lib/modules/*/kernel/drivers/media/ /lib/modules/*/kernel/drivers/net/wireless/ \
         /lib/modules/*/kernel/drivers/infiniband/ /lib/modules/*/kernel/drivers/staging/ \
         /lib/modules/*/kernel/drivers/bluetooth/ /lib/modules/*/kernel/net/bluetooth/ \
         /lib/modules/*/kernel/drivers/iio/ /lib/modules/*/kernel/drivers/isdn/ ; do
	excl="$excl --dpkgopt=path-exclude=$p* --dpkgopt=path-exclude=/usr$p*"
done

# shellcheck disable=SC2086 # $excl is a list of options on purpose
exec mmdebstrap --mode=root --variant=minbase --format=tar \
	--aptopt='APT::Install-Recommends "false"' \
	--aptopt='Acquire::Retries "3"' \
	$excl \
	--dpkgopt='path-include=/usr/share/doc/*/copyright' \
	--dpkgopt='path-include=/usr/share/locale/locale.alias' \
	--essential-hook='chroot "$1" dpkg-divert --local --rename --add /usr/sbin/update-initramfs' \
	--essential-hook='ln -s /bin/true "$1/usr/sbin/update-initramfs"' \
	--include="$pkgs" \
	bookworm "$out" "$mirror"
