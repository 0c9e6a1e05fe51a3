// Package acceptance runs the plugin under the real packer binary: packer
// validate of every example, and packer build of the examples against a
// synthetic derivative and the in-process AWS and GCP emulators. The tests
// run only with PACKER_ACC=1 (make testacc), because they need the packer
// binary (make packer) and take tens of seconds.
package acceptance
