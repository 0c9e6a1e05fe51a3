package diskformat_test

import (
	"context"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/elemental-suite/elemental/internal/diskformat"
)

// TestVHDSizes checks qemu-img opens the fixed VHD (it verifies the footer
// checksum), takes the virtual size from the footer, and that the footer's
// size fields match what qemu-img writes for the same size.
func TestVHDSizes(t *testing.T) {
	needTool(t, "qemu-img")
	dir := t.TempDir()
	for _, tt := range []struct {
		name string
		size int64
	}{
		{name: "1MiB", size: mib},
		{name: "100MiB", size: 100 * mib},
		{name: "3GiB", size: 3 * gib},
		{name: "30GiB", size: 30 * gib},
		{name: "200GiB past CHS 63", size: 200 * gib},
		{name: "2000GiB", size: 2000 * gib},
	} {
		t.Run(tt.name, func(t *testing.T) {
			raw := makeRaw(t, t.TempDir(), tt.size, nil, 13)
			ours := filepath.Join(dir, "ours.vhd")
			if err := diskformat.ConvertFile(context.Background(), raw, diskformat.VHD, ours, diskformat.Options{}); err != nil {
				t.Fatal(err)
			}
			theirs := filepath.Join(dir, "qemu.vhd")
			run(t, "qemu-img", "create", "-q", "-f", "vpc", "-o", "subformat=fixed,force_size=on", theirs, strconv.FormatInt(tt.size, 10))
			a, b := footer(t, ours), footer(t, theirs)
			if string(a[40:56]) != string(b[40:56]) {
				t.Errorf("original+current size = % x, qemu writes % x", a[40:56], b[40:56])
			}
			if info := imgInfo(t, "vpc", ours); info.VirtualSize != tt.size {
				t.Errorf("qemu-img info virtual size %d, want %d", info.VirtualSize, tt.size)
			}
			assertSparse(t, ours, mib)
		})
	}
}

func footer(t *testing.T, path string) []byte {
	t.Helper()
	f := openFile(t, path)
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 512)
	if _, err := f.ReadAt(b, fi.Size()-512); err != nil {
		t.Fatal(err)
	}
	if string(b[:8]) != "conectix" {
		t.Fatalf("%s: no VHD footer", path)
	}
	return b
}
