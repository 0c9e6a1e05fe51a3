package fat_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/elemental-suite/elemental/internal/fat"
)

// TestGeometryMatchesMkfs formats images with mkfs.fat (no -F, as upstream
// Elemental runs it) and checks that the writer picks the same FAT type,
// cluster size and layout.
func TestGeometryMatchesMkfs(t *testing.T) {
	mkfs := tool(t, "mkfs.fat")
	tests := []struct {
		name  string
		size  int64
		exact bool // mkfs.fat trims FAT32 volumes, so only compare type and cluster size there
	}{
		{name: "1 MiB FAT12", size: 1 * mib, exact: true},
		{name: "4 MiB FAT12", size: 4 * mib, exact: true},
		{name: "16 MiB FAT16", size: 16 * mib, exact: true},
		{name: "64 MiB ESP FAT16", size: 64 * mib, exact: true},
		{name: "256 MiB FAT16", size: 256 * mib, exact: true},
		{name: "511 MiB FAT16", size: 511 * mib}, // mkfs.fat rounds its FAT size differently
		{name: "600 MiB FAT32", size: 600 * mib},
		{name: "9 GiB FAT32", size: 9 << 30},
	}
	fields := []string{`(\d+) bytes per cluster`, `(\d+) bit entries`}
	exactFields := []string{`(\d+) reserved sectors?\b`, `(\d+) bytes per FAT`, `(\d+) root directory entries`, `(\d+) data clusters`, `Data area starts at byte (\d+)`}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ref := filepath.Join(t.TempDir(), "ref.img")
			if err := os.WriteFile(ref, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(ref, tc.size); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command(mkfs, ref).CombinedOutput(); err != nil {
				t.Fatalf("mkfs.fat: %v\n%s", err, out)
			}
			want := fsck(t, ref)
			got := fsck(t, build(t, tc.size, fat.Options{Time: epoch}, nil))
			check := fields
			if tc.exact {
				check = append(check, exactFields...)
			}
			for _, f := range check {
				re := regexp.MustCompile(f)
				w, g := re.FindStringSubmatch(want), re.FindStringSubmatch(got)
				if w == nil || g == nil || w[1] != g[1] {
					t.Errorf("%q: mkfs.fat %v, ours %v", f, w, g)
				}
			}
		})
	}
}
