#!/bin/bash
# floor.sh WORK BLOB...: the least any disk build must do, decompressing
# every layer blob once and writing its bytes to a file, then fsync.
set -euo pipefail
work=$1
shift
i=0
for b in "$@"; do
	gzip -dc "$b" >"$work/layer$i.tar"
	i=$((i + 1))
done
sync "$work"/layer*.tar
