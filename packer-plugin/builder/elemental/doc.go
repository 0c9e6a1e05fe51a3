// Package elemental is the `elemental` Packer builder: it turns an
// Elemental derivative into disk files (raw, qcow2, vhd, vmdk, gce) in an
// output directory, through the installer core. It only maps template
// fields onto installer.Spec and reports progress; what a disk contains is
// the core's business.
package elemental
