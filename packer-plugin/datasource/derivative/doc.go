// Package derivative is the `elemental-derivative` Packer data source: it
// resolves a derivative reference to its manifest digest and reads what
// the installer would detect (toolkit generation, kernel version,
// os-release), so that templates can name images after the OS version and
// pin builds to a digest.
package derivative
