// Package gce is the `elemental-gcp` Packer builder: it builds the raw
// disk of an Elemental derivative with the installer core and publishes it
// as a Compute Engine image through Cloud Storage with
// internal/publish/gcp. Its field names are those of the googlecompute
// plugin's googlecompute-import post-processor.
package gce
