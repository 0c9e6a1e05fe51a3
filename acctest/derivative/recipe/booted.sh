#!/bin/sh
# Prints the line the acceptance tests wait for on the serial console:
#   ELEMENTAL-TEST-BOOTED version=<v> generation=<g> mode=<m> digest=<d>
# version/generation come from /etc/os-release (so an upgrade to image B is
# visible), mode from the initrd's sentinels, digest from the state.yaml of
# the partition we booted from (none before the first install writes it).
set -u
# BOOTED_ROOT lets the unit test run this against a fake tree; then the line
# only goes to stdout.
r=${BOOTED_ROOT:-}

VERSION=unknown
ELEMENTAL_TEST_GENERATION=unknown
# shellcheck disable=SC1091 # generated at build time
. "$r/etc/os-release"

mode=unknown
for m in active passive recovery; do
	if [ -e "$r/run/elemental/${m}_mode" ] || [ -e "$r/run/cos/${m}_mode" ]; then
		mode=$m
		break
	fi
done

# flatten turns the block-style YAML that yaml.v3 writes into path=value
# lines (state.snapshots.1.digest=sha256:...), enough to pick one value.
flatten() {
	awk '
	/^[ \t]*(#|$)/ { next }
	{
		match($0, /^ */); ind = RLENGTH
		line = substr($0, ind + 1)
		if (line ~ /^- / || index(line, ":") == 0) next
		k = substr(line, 1, index(line, ":") - 1)
		v = substr(line, index(line, ":") + 1)
		sub(/^[ \t]+/, "", v); sub(/[ \t]+$/, "", v)
		gsub(/^["\047]|["\047]$/, "", v)
		while (n > 0 && inds[n] >= ind) n--
		n++; keys[n] = k; inds[n] = ind
		if (v != "") {
			p = keys[1]
			for (i = 2; i <= n; i++) p = p "." keys[i]
			print p "=" v
		}
	}' "$1"
}

# value KEY: the value of one flattened key in $flat, empty when absent.
value() {
	printf '%s\n' "$flat" | sed -n "s|^$1=||p" | head -n 1
}

digest=none
for f in "$r/run/initramfs/elemental-state/state.yaml" "$r/run/initramfs/cos-state/state.yaml"; do
	[ -f "$f" ] || continue
	flat=$(flatten "$f")
	image=$(tr ' ' '\n' <"$r/proc/cmdline" | sed -n 's|^elemental.image=||p')
	d=
	case $mode in
	recovery)
		d=$(value 'recovery\.recovery\.digest')
		[ -n "$d" ] || d=$(value 'recovery\.recovery\.source-metadata\.digest')
		;;
	active)
		n=$(printf '%s\n' "$flat" | sed -n 's|^state\.snapshots\.\([0-9]*\)\.active=true$|\1|p' | head -n 1)
		[ -z "$n" ] || d=$(value "state\.snapshots\.$n\.digest")
		[ -n "$d" ] || d=$(value 'state\.active\.source-metadata\.digest')
		[ -n "$d" ] || d=$(value 'state\.active\.digest')
		;;
	passive)
		n=$(printf '%s\n' "$image" | sed -n 's|^/\.snapshots/\([0-9]*\)/.*|\1|p')
		[ -z "$n" ] || d=$(value "state\.snapshots\.$n\.digest")
		[ -n "$d" ] || d=$(value 'state\.passive\.source-metadata\.digest')
		[ -n "$d" ] || d=$(value 'state\.passive\.digest')
		;;
	esac
	[ -z "$d" ] || digest=$d
	break
done

line="ELEMENTAL-TEST-BOOTED version=${VERSION} generation=${ELEMENTAL_TEST_GENERATION} mode=${mode} digest=${digest}"
echo "$line"
[ -z "$r" ] || exit 0
# A leading newline: a getty prompt may already sit on the console line.
printf '\n%s\n' "$line" >/dev/console 2>/dev/null || true
# /dev/console is the last console= on the command line; write to ttyS0 as
# well unless that is already where /dev/console points.
active=$(cat /sys/class/tty/console/active 2>/dev/null || true)
case " $active" in
*" ttyS0") ;;
*) printf '\n%s\n' "$line" >/dev/ttyS0 2>/dev/null || true ;;
esac
