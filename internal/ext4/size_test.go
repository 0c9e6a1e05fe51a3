package ext4_test

import (
	"os"
	"syscall"
	"testing"

	"github.com/elemental-suite/elemental/internal/ext4"
)

func diskUsage(t *testing.T, p string) int64 {
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return -1
	}
	return st.Blocks * 512
}

// TestMinSize builds each tree at exactly MinSize and checks that it fits,
// passes e2fsck, and is not absurdly larger than what the tree uses.
func TestMinSize(t *testing.T) {
	needTool(t, "e2fsck", "dumpe2fs")
	cases := []struct {
		name string
		opts ext4.Options
		huge bool
	}{
		{name: "ext2", opts: testOptions(ext4.KindExt2, false)},
		{name: "ext4", opts: testOptions(ext4.KindExt4, false)},
		{name: "ext4 journal", opts: testOptions(ext4.KindExt4, true)},
		{name: "ext2 1k", opts: func() ext4.Options { o := testOptions(ext4.KindExt2, false); o.BlockSize = 1024; return o }()},
		{name: "ext4 huge sparse", opts: testOptions(ext4.KindExt4, true), huge: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			its := tree(tc.huge)
			st := stats(its)
			size := ext4.MinSize(st, tc.opts)
			if tc.huge {
				// Sparse files count in full, so the build itself proves
				// nothing new (TestImages covers many-group layouts).
				if size < st.DataBytes || size > 2*st.DataBytes+16<<20 {
					t.Errorf("MinSize %d for %d bytes of (sparse) data", size, st.DataBytes)
				}
				return
			}
			bs := int64(tc.opts.BlockSize)
			if bs == 0 {
				bs = 4096
			}
			if size%bs != 0 {
				t.Errorf("MinSize %d is not block aligned", size)
			}
			img := build(t, size, tc.opts, its)
			fsck(t, img)
			h := run(t, "dumpe2fs", "-h", img)
			blocks, free := atoi(field(t, h, "Block count")), atoi(field(t, h, "Free blocks"))
			actual := (blocks - free) * bs
			if size > 2*actual+16<<20 {
				t.Errorf("MinSize %d for a tree using %d bytes", size, actual)
			}
			t.Logf("MinSize %d, used %d", size, actual)
		})
	}
}
