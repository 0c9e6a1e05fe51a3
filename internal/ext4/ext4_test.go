package ext4_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/elemental-suite/elemental/internal/ext4"
	"github.com/elemental-suite/elemental/internal/rootfs"
)

func TestImages(t *testing.T) {
	needTool(t, "e2fsck", "debugfs", "dumpe2fs")
	cases := []struct {
		name     string
		kind     ext4.Kind
		journal  bool
		bs       int
		size     int64
		huge     bool
		features string
	}{
		{name: "ext2", kind: ext4.KindExt2, size: 200 << 20, huge: true,
			features: "ext_attr filetype sparse_super large_file"},
		{name: "ext4", kind: ext4.KindExt4, size: 200 << 20,
			features: "ext_attr sparse_super2 filetype extent flex_bg sparse_super large_file huge_file dir_nlink extra_isize"},
		{name: "ext4 journal", kind: ext4.KindExt4, journal: true, size: 300 << 20, huge: true,
			features: "has_journal ext_attr sparse_super2 filetype extent flex_bg sparse_super large_file huge_file dir_nlink extra_isize"},
		{name: "ext2 many groups", kind: ext4.KindExt2, size: 10 << 30,
			features: "ext_attr filetype sparse_super large_file"},
		{name: "ext4 many groups", kind: ext4.KindExt4, journal: true, size: 9 << 30,
			features: "has_journal ext_attr sparse_super2 filetype extent flex_bg sparse_super large_file huge_file dir_nlink extra_isize"},
		{name: "ext2 1k blocks", kind: ext4.KindExt2, bs: 1024, size: 40 << 20,
			features: "ext_attr filetype sparse_super large_file"},
		{name: "ext4 2k blocks journal", kind: ext4.KindExt4, journal: true, bs: 2048, size: 50 << 20,
			features: "has_journal ext_attr sparse_super2 filetype extent flex_bg sparse_super large_file huge_file dir_nlink extra_isize"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			opts := testOptions(tc.kind, tc.journal)
			opts.BlockSize = tc.bs
			huge := tc.huge && !testing.Short()
			its := tree(huge)
			img := build(t, tc.size, opts, its)
			fsck(t, img)
			checkSuper(t, img, opts, tc.features)
			checkTree(t, img, expectations(its, true))
			if huge {
				checkSparse(t, img)
			}
		})
	}
}

func field(t *testing.T, dump, name string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `:\s+(.*)$`).FindStringSubmatch(dump)
	if m == nil {
		t.Fatalf("dumpe2fs has no %q", name)
	}
	return strings.TrimSpace(m[1])
}

func checkSuper(t *testing.T, img string, opts ext4.Options, features string) {
	h := run(t, "dumpe2fs", "-h", img)
	bs := opts.BlockSize
	if bs == 0 {
		bs = 4096
	}
	for name, want := range map[string]string{
		"Filesystem volume name": opts.Label,
		"Filesystem UUID":        opts.UUID.String(),
		"Filesystem features":    features,
		"Filesystem state":       "clean",
		"Block size":             fmt.Sprint(bs),
		"Inode size":             "256",
		"Directory Hash Seed":    opts.HashSeed.String(),
	} {
		if got := field(t, h, name); got != want {
			t.Errorf("dumpe2fs %s = %q, want %q", name, got, want)
		}
	}
	// Free counts: the superblock totals must equal the sums over groups
	// that dumpe2fs prints, and leave real room.
	full := run(t, "dumpe2fs", img)
	var fb, fi int64
	for _, m := range regexp.MustCompile(`(\d+) free blocks, (\d+) free inodes`).FindAllStringSubmatch(full, -1) {
		fb += atoi(m[1])
		fi += atoi(m[2])
	}
	if got := atoi(field(t, h, "Free blocks")); got != fb || got == 0 {
		t.Errorf("free blocks %d, groups sum to %d", got, fb)
	}
	if got := atoi(field(t, h, "Free inodes")); got != fi || got == 0 {
		t.Errorf("free inodes %d, groups sum to %d", got, fi)
	}
	if opts.Journal {
		if got := field(t, h, "Journal inode"); got != "8" {
			t.Errorf("journal inode %s", got)
		}
	}
}

// checkSparse verifies the multi-GiB sparse files: few blocks allocated,
// data where it was written (read through debugfs bmap from the image),
// holes elsewhere.
func checkSparse(t *testing.T, img string) {
	bs := int64(4096)
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	its := map[string]item{}
	for _, it := range tree(true) {
		its[it.e.Path] = it
	}
	for _, tc := range []struct {
		path      string
		maxBlocks int64
		probes    []int64 // logical blocks to compare
		holes     []int64
	}{
		{"data/sparse-3g", 600, []int64{0, 255, 3 << 17, 3<<17 + 255, 3<<18 - 1}, []int64{256, 3<<17 - 1, 3<<17 + 256, 3<<18 - 26}},
		{"data/sparse-4g", 20, []int64{1 << 20, 1<<20 + 15}, []int64{0, 1 << 19, 1<<20 - 1}},
	} {
		blocks := append(slices.Clone(tc.probes), tc.holes...)
		cmds := []string{"stat " + tc.path}
		for _, l := range blocks {
			cmds = append(cmds, fmt.Sprintf("bmap %s %d", tc.path, l))
		}
		outs := debugfsBatch(t, img, cmds)
		m := statRE["links"].FindStringSubmatch(outs[0])
		if m == nil || atoi(m[2]) > tc.maxBlocks*bs/512 {
			t.Errorf("%s: blockcount %v, want at most %d blocks", tc.path, m, tc.maxBlocks)
		}
		sp := its[tc.path].data().(*sparse)
		for i, l := range blocks {
			phys := atoi(strings.TrimSpace(outs[i+1]))
			want := make([]byte, bs)
			sp.off = l * bs
			sp.Read(want)
			got := make([]byte, bs)
			if phys != 0 {
				f.ReadAt(got, phys*bs)
			}
			isHole := slices.Contains(tc.holes, l)
			if isHole != (phys == 0) || string(got) != string(want) {
				t.Errorf("%s: logical block %d at %d (hole wanted %v): content matches %v", tc.path, l, phys, isHole, string(got) == string(want))
			}
		}
	}
}

// TestXattrCopied checks that Add copies attribute values (the Sink
// contract lets callers reuse their arrays after Add returns).
func TestXattrCopied(t *testing.T) {
	needTool(t, "debugfs")
	for _, kind := range []ext4.Kind{ext4.KindExt2, ext4.KindExt4} {
		t.Run(kind.String(), func(t *testing.T) {
			val := []byte("original")
			it := other("f", rootfs.TypeFIFO, 0o644)
			it.e.Xattrs = map[string][]byte{"user.v": val}
			img := filepath.Join(t.TempDir(), "fs.img")
			f, err := os.Create(img)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			f.Truncate(16 << 20)
			w, err := ext4.New(f, 16<<20, testOptions(kind, false))
			if err != nil {
				t.Fatal(err)
			}
			feed(t, w, []item{it})
			copy(val, "CHANGED!")
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if got := debugfs(t, img, "ea_get f user.v"); !strings.Contains(got, "original") {
				t.Errorf("stored value %q, want original", got)
			}
		})
	}
}
