#!/bin/sh
# Builds packer-sdc at the SDK version go.mod pins into $1 (default
# ./bin/packer-sdc). `go install …/cmd/packer-sdc@v…` fails when the proxy
# refuses the SDK's version list, so a throwaway module requiring the SDK
# (with the go-cty replace) is built instead. Run from the repository root.
set -eu
version="${SDK_VERSION:-$(go list -m -f '{{.Version}}' github.com/hashicorp/packer-plugin-sdk)}"
out="${1:-bin/packer-sdc}"
case "$out" in /*) ;; *) out="$(pwd)/$out" ;; esac
stamp="$out.version"
if [ -x "$out" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$version" ]; then
	exit 0
fi
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
cat >go.mod <<MOD
module sdcbuild

go 1.26.0

require github.com/hashicorp/packer-plugin-sdk ${version}

replace github.com/zclconf/go-cty => github.com/nywilken/go-cty v1.13.3
MOD
cat >tools.go <<'GO'
//go:build tools

package sdcbuild

import _ "github.com/hashicorp/packer-plugin-sdk/cmd/packer-sdc"
GO
GOFLAGS=-mod=mod go mod tidy >/dev/null 2>&1 || true
mkdir -p "$(dirname "$out")"
GOFLAGS=-mod=mod CGO_ENABLED=0 go build -trimpath -o "$out" github.com/hashicorp/packer-plugin-sdk/cmd/packer-sdc
echo "$version" >"$stamp"
