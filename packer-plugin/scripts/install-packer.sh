#!/bin/sh
# Builds the pinned Packer from the Go module proxy into $1 (default
# ./bin/packer). Packer's go.mod carries replace directives, so
# `go install github.com/hashicorp/packer@v…` refuses it: a throwaway module
# that requires Packer, with the go-cty replace every plugin also carries,
# is built instead.
set -eu
version="${PACKER_VERSION:-v1.12.0}"
out="${1:-bin/packer}"
case "$out" in /*) ;; *) out="$(pwd)/$out" ;; esac
if [ -x "$out" ] && "$out" version 2>/dev/null | grep -q "Packer ${version}"; then
	exit 0
fi
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
cat >go.mod <<MOD
module packerbuild

go 1.26.0

require github.com/hashicorp/packer ${version}

replace github.com/zclconf/go-cty => github.com/nywilken/go-cty v1.13.3
MOD
cat >tools.go <<'GO'
//go:build tools

package packerbuild

import _ "github.com/hashicorp/packer"
GO
GOFLAGS=-mod=mod go mod tidy >/dev/null 2>&1 || GOFLAGS=-mod=mod go get "github.com/hashicorp/packer@${version}"
mkdir -p "$(dirname "$out")"
GOFLAGS=-mod=mod CGO_ENABLED=0 go build -trimpath -o "$out" github.com/hashicorp/packer
"$out" version
