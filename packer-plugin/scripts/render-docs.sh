#!/bin/sh
# Renders docs/packer (with the partials packer-sdc struct-markdown wrote
# into packer-plugin/docs-partials) and compiles the result into .web-docs,
# the layout of Packer's integration portal. Run from the repository root:
#   sh packer-plugin/scripts/render-docs.sh bin/packer-sdc
set -eu
sdc="${1:-packer-sdc}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
# renderdocs logs every step on stderr: show it only when it fails (for
# example on an @include of a partial that does not exist).
if ! "$sdc" renderdocs -src docs/packer -partials packer-plugin/docs-partials -dst "$tmp/docs" 2>"$tmp/log"; then
	cat "$tmp/log" >&2
	exit 1
fi

# strip drops the MDX front matter.
strip() { awk 'NR==1 && /^---$/ {fm=1; next} fm && /^---$/ {fm=0; next} !fm' "$1"; }

rm -rf .web-docs/components
mkdir -p .web-docs/components/builder/elemental .web-docs/components/builder/aws \
	.web-docs/components/builder/gcp .web-docs/components/data-source/derivative
cp "$tmp/docs/README.md" .web-docs/README.md
strip "$tmp/docs/builders/elemental.mdx" >.web-docs/components/builder/elemental/README.md
strip "$tmp/docs/builders/elemental-aws.mdx" >.web-docs/components/builder/aws/README.md
strip "$tmp/docs/builders/elemental-gcp.mdx" >.web-docs/components/builder/gcp/README.md
strip "$tmp/docs/datasources/derivative.mdx" >.web-docs/components/data-source/derivative/README.md
cat >.web-docs/metadata.hcl <<'HCL'
# For full specification on the configuration of this file visit:
# https://github.com/hashicorp/integration-template#metadata-configuration
integration {
  name        = "Elemental"
  description = "Turn Elemental derivative images into disks, AMIs and GCE images."
  identifier  = "packer/elemental-suite/elemental"
  flags       = ["hcp-ready"]
  docs {
    process_docs = true
    readme_location = "./README.md"
    external_url = "https://github.com/elemental-suite/elemental"
  }
  license {
    type = "MPL-2.0"
    url = "https://github.com/elemental-suite/elemental/blob/main/LICENSE"
  }
  component {
    type = "builder"
    name = "Elemental"
    slug = "elemental"
  }
  component {
    type = "builder"
    name = "Elemental AWS"
    slug = "aws"
  }
  component {
    type = "builder"
    name = "Elemental GCP"
    slug = "gcp"
  }
  component {
    type = "data-source"
    name = "Elemental Derivative"
    slug = "derivative"
  }
}
HCL
