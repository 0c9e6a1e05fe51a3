package ext4_test

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/elemental-suite/elemental/internal/ext4"
)

// TestGrubReads checks that GRUB's own ext2/ext4 reader (through
// grub-fstest) lists the big directory and reads files back identical,
// including a two-level extent tree / holey indirect map and 1 KiB blocks.
func TestGrubReads(t *testing.T) {
	needTool(t, "grub-fstest")
	cases := []struct {
		name string
		kind ext4.Kind
		bs   int
	}{
		{name: "ext2", kind: ext4.KindExt2},
		{name: "ext4", kind: ext4.KindExt4},
		{name: "ext2 1k blocks", kind: ext4.KindExt2, bs: 1024},
	}
	its := map[string]item{}
	for _, it := range tree(false) {
		its[it.e.Path] = it
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			opts := testOptions(tc.kind, false)
			opts.BlockSize = tc.bs
			img := build(t, 64<<20, opts, tree(false))
			out := run(t, "grub-fstest", img, "ls", "/big")
			if n := len(strings.Fields(out)); n != 2100 {
				t.Errorf("grub lists %d entries in /big, want 2100", n)
			}
			tmp := t.TempDir()
			for _, p := range []string{"usr/bin/tool", "data/random-5m", "data/striped", "data/unaligned", "links/hl-chain", "names/" + utf8Name, "deep/level00/level01/level02/level03/level04/level05/level06/level07/level08/level09/level10/level11/level12/level13/level14/level15/level16/level17/level18/level19/level20/level21/level22/level23/leaf"} {
				it := its[p]
				if it.data == nil { // the hardlink chain
					it = its["links/target-later"]
				}
				local := filepath.Join(tmp, "want")
				f, err := os.Create(local)
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(f, it.data())
				f.Close()
				if out, err := exec.Command("grub-fstest", img, "cmp", "/"+p, local).CombinedOutput(); err != nil {
					t.Errorf("grub cmp %s: %v\n%s", p, err, out)
				}
			}
		})
	}
}
