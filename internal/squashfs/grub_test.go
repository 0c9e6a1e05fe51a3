package squashfs_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// checkGRUB reads the image with GRUB's own squash4 driver through
// grub-fstest: the recovery image must be loop-mountable by GRUB. It
// compares a sample of files (one block, a block plus one byte, random,
// empty, fragment tails, a hardlink, a relative symlink, long and UTF-8
// names) and lists the 2,000-entry directory.
func checkGRUB(t *testing.T, img string, x expected) {
	needTool(t, "grub-fstest")
	tmp := t.TempDir()
	for _, p := range []string{
		"data/random", "data/oneblock", "data/oneblockplus", "data/empty", "data/cap", "usr/bin/tool",
		"many/f0006", "many/f1999", "links/forward", "links/rel", "names/héllo wörld ✓", "names/" + strings.Repeat("n", 255),
	} {
		e := x.byPath[p]
		if e.Type == 0 || (e.gen == nil && p != "links/rel") {
			t.Fatalf("fixture has no file %s", p)
		}
		if p == "links/rel" {
			e = x.byPath["data/target"]
		}
		local := filepath.Join(tmp, "want")
		f, err := os.Create(local)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.gen(f); err != nil {
			t.Fatal(err)
		}
		f.Close()
		if out, err := exec.Command("grub-fstest", img, "cmp", "/"+p, local).CombinedOutput(); err != nil {
			t.Errorf("grub-fstest cmp /%s: %v: %s", p, err, out)
		}
	}
	out, err := exec.Command("grub-fstest", img, "ls", "/many").CombinedOutput()
	if err != nil {
		t.Fatalf("grub-fstest ls /many: %v: %s", err, out)
	}
	if n := len(strings.Fields(string(out))); n != 2000 {
		t.Errorf("grub-fstest ls /many lists %d names, want 2000", n)
	}
}
