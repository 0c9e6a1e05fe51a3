package diskformat

import (
	"fmt"
	"strings"
)

// Format is a disk image format that a raw disk can be converted into.
type Format int

// The supported formats.
const (
	FormatUnknown Format = iota
	Raw                  // sparse raw copy
	QCOW2                // qcow2 version 3, 64 KiB clusters, uncompressed
	VHD                  // fixed VHD, 1 MiB aligned (Azure)
	VMDK                 // streamOptimized VMDK (VMware, OVA)
	GCE                  // disk.raw in an oldgnu sparse tar, gzipped (GCE)
)

var formatNames = [...]string{
	FormatUnknown: "unknown",
	Raw:           "raw",
	QCOW2:         "qcow2",
	VHD:           "vhd",
	VMDK:          "vmdk",
	GCE:           "gce",
}

var formatExts = [...]string{
	Raw:   ".raw",
	QCOW2: ".qcow2",
	VHD:   ".vhd",
	VMDK:  ".vmdk",
	GCE:   ".tar.gz",
}

// String returns the format's name as ParseFormat accepts it.
func (f Format) String() string {
	if f.valid() || f == FormatUnknown {
		return formatNames[f]
	}
	return fmt.Sprintf("Format(%d)", int(f))
}

// Ext returns the usual file name extension, dot included, or "" for an
// unknown format.
func (f Format) Ext() string {
	if !f.valid() {
		return ""
	}
	return formatExts[f]
}

func (f Format) valid() bool { return f > FormatUnknown && f <= GCE }

// Formats lists every supported format in a stable order.
func Formats() []Format {
	return []Format{Raw, QCOW2, VHD, VMDK, GCE}
}

// ParseFormat parses a format name (case-insensitive): raw, qcow2, vhd,
// vmdk or gce.
func ParseFormat(s string) (Format, error) {
	name := strings.ToLower(strings.TrimSpace(s))
	for _, f := range Formats() {
		if f.String() == name {
			return f, nil
		}
	}
	allowed := make([]string, 0, len(formatNames))
	for _, f := range Formats() {
		allowed = append(allowed, f.String())
	}
	return FormatUnknown, fmt.Errorf("parsing disk format %q (allowed: %s): %w",
		s, strings.Join(allowed, ", "), ErrUnknownFormat)
}
