#!/bin/sh
# Prints the packer to use: one on PATH when it is the pinned version,
# else ./bin/packer (which `make packer` builds).
want="${PACKER_VERSION:-v1.12.0}"
if p="$(command -v packer 2>/dev/null)" && "$p" version 2>/dev/null | head -1 | grep -q "^Packer ${want}\$"; then
	echo "$p"
else
	echo "$(pwd)/bin/packer"
fi
