package diskformat

import (
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// TestVHDGeometryMatchesQemu: qemu-img rounds a fixed VHD up to a size
// its CHS geometry covers, so the specification's CHS algorithm applied to
// that size must give back qemu's geometry.
func TestVHDGeometryMatchesQemu(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping: -short set; needs qemu-img")
	}
	if _, err := exec.LookPath("qemu-img"); err != nil {
		t.Skipf("skipping: needs qemu-img: %v", err)
	}
	dir := t.TempDir()
	for _, tt := range []struct {
		name string
		size int64
	}{
		{name: "20MiB spt17", size: 20 * mib},
		{name: "300MiB", size: 300 * mib},
		{name: "3GiB spt63", size: 3 * gib},
		{name: "30GiB", size: 30 * gib},
		{name: "100GiB spt255", size: 100 * gib},
		{name: "500GiB capped", size: 500 * gib},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, "q.vhd")
			os.Remove(path)
			out, err := exec.Command("qemu-img", "create", "-q", "-f", "vpc", "-o", "subformat=fixed",
				path, strconv.FormatInt(tt.size, 10)).CombinedOutput()
			if err != nil {
				t.Fatalf("qemu-img create: %v\n%s", err, out)
			}
			foot := readFooter(t, path)
			cur := int64(binary.BigEndian.Uint64(foot[48:]))
			c, h, s := vhdGeometry(cur / 512)
			wc, wh, ws := binary.BigEndian.Uint16(foot[56:]), foot[58], foot[59]
			if c != wc || h != wh || s != ws {
				t.Errorf("vhdGeometry(%d sectors) = %d/%d/%d, qemu-img wrote %d/%d/%d", cur/512, c, h, s, wc, wh, ws)
			}
			if got := vhdChecksum(foot); got != binary.BigEndian.Uint32(foot[64:]) {
				t.Errorf("vhdChecksum = %#x, qemu-img wrote %#x", got, binary.BigEndian.Uint32(foot[64:]))
			}
		})
	}
}

func readFooter(t *testing.T, path string) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 512)
	if _, err := f.ReadAt(b, fi.Size()-512); err != nil {
		t.Fatal(err)
	}
	return b
}
