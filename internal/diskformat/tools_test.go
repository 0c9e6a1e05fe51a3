package diskformat_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/elemental-suite/elemental/internal/diskformat"
)

var testTime = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

type qemuInfo struct {
	Format      string `json:"format"`
	VirtualSize int64  `json:"virtual-size"`
}

func imgInfo(t *testing.T, qemuFmt, path string) qemuInfo {
	t.Helper()
	var info qemuInfo
	out := run(t, "qemu-img", "info", "-f", qemuFmt, "--output=json", path)
	if err := json.Unmarshal([]byte(out), &info); err != nil {
		t.Fatalf("parsing qemu-img info: %v\n%s", err, out)
	}
	return info
}

// TestQemuFormats converts a 3 GiB sparse disk and has qemu-img check the
// image, report its virtual size and compare it with the raw disk.
func TestQemuFormats(t *testing.T) {
	needTool(t, "qemu-img")
	dir := t.TempDir()
	raw := makeRaw(t, dir, bigSize, bigSpans(), 1)
	tests := []struct {
		name     string
		format   diskformat.Format
		qemuFmt  string
		check    bool
		wantSize int64
	}{
		{name: "raw", format: diskformat.Raw, qemuFmt: "raw", wantSize: bigSize},
		{name: "qcow2", format: diskformat.QCOW2, qemuFmt: "qcow2", check: true, wantSize: bigSize},
		{name: "vhd", format: diskformat.VHD, qemuFmt: "vpc", wantSize: 3 * gib},
		{name: "vmdk", format: diskformat.VMDK, qemuFmt: "vmdk", check: true, wantSize: bigSize},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img := convertAndCheck(t, raw, tt.format, tt.qemuFmt, tt.check, tt.wantSize)
			if tt.format == diskformat.Raw || tt.format == diskformat.VHD {
				// Explicitly written zeros in the raw disk become holes too.
				if got, in := diskUsage(t, img), diskUsage(t, raw); got >= in {
					t.Errorf("%s uses %d bytes on disk, want less than the raw disk's %d", img, got, in)
				}
			}
		})
	}
}

// TestQemuLargeSparse covers a 20 GiB disk with data spread over it:
// several sectors of VMDK grain directory, dozens of qcow2 L2 tables.
func TestQemuLargeSparse(t *testing.T) {
	needTool(t, "qemu-img")
	const size = 20*gib + 3*512
	var spans []span
	for i := range int64(40) {
		spans = append(spans, span{off: i*size/40 + i*4099, n: 70000})
	}
	spans = append(spans, span{off: size - 1, n: 1})
	raw := makeRaw(t, t.TempDir(), size, spans, 15)
	for _, tt := range []struct {
		name     string
		format   diskformat.Format
		qemuFmt  string
		wantSize int64
	}{
		{name: "qcow2", format: diskformat.QCOW2, qemuFmt: "qcow2", wantSize: size},
		{name: "vmdk", format: diskformat.VMDK, qemuFmt: "vmdk", wantSize: size},
		{name: "vhd", format: diskformat.VHD, qemuFmt: "vpc", wantSize: 20*gib + mib},
	} {
		t.Run(tt.name, func(t *testing.T) {
			convertAndCheck(t, raw, tt.format, tt.qemuFmt, tt.format != diskformat.VHD, tt.wantSize)
		})
	}
}

// convertAndCheck converts raw next to it and has qemu-img check it (when
// the format supports that), report its format and virtual size, and
// compare it with the raw disk. It returns the image path.
func convertAndCheck(t *testing.T, raw string, f diskformat.Format, qemuFmt string, check bool, wantSize int64) string {
	t.Helper()
	img := filepath.Join(filepath.Dir(raw), "out"+f.Ext())
	opts := diskformat.Options{Time: testTime, Seed: "test", Workers: 2}
	if err := diskformat.ConvertFile(context.Background(), raw, f, img, opts); err != nil {
		t.Fatal(err)
	}
	if check {
		run(t, "qemu-img", "check", "-f", qemuFmt, img)
	}
	info := imgInfo(t, qemuFmt, img)
	if info.Format != qemuFmt || info.VirtualSize != wantSize {
		t.Errorf("qemu-img info = %+v, want format %s size %d", info, qemuFmt, wantSize)
	}
	run(t, "qemu-img", "compare", "-f", "raw", "-F", qemuFmt, raw, img)
	return img
}

// assertSparse fails when path occupies more than limit bytes on disk.
func assertSparse(t *testing.T, path string, limit int64) {
	t.Helper()
	used := diskUsage(t, path)
	if used > limit {
		t.Errorf("%s uses %d bytes on disk, want at most %d (holes not kept)", path, used, limit)
	}
}

// TestQemuDetectsCorruption makes sure the qemu-img checks above can fail:
// a flipped data byte must make compare report a difference.
func TestQemuDetectsCorruption(t *testing.T) {
	needTool(t, "qemu-img")
	dir := t.TempDir()
	raw := makeRaw(t, dir, 64*mib, []span{{off: 0, n: 2 * mib}}, 2)
	img := filepath.Join(dir, "out.qcow2")
	if err := diskformat.ConvertFile(context.Background(), raw, diskformat.QCOW2, img, diskformat.Options{}); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(img, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := f.Stat()
	b := []byte{0}
	_, _ = f.ReadAt(b, fi.Size()-1000)
	b[0] ^= 0xff
	_, _ = f.WriteAt(b, fi.Size()-1000)
	f.Close()
	out, err := execOutput("qemu-img", "compare", "-f", "raw", "-F", "qcow2", raw, img)
	if err == nil || !strings.Contains(out, "mismatch") {
		t.Errorf("qemu-img compare after corruption: err=%v out=%q, want a difference", err, out)
	}
}
