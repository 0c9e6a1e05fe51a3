package ext4_test

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"

	"github.com/elemental-suite/elemental/internal/ext4"
	"github.com/elemental-suite/elemental/internal/rootfs"
)

// onceWriter is an io.WriterAt over a file that fails on any byte written
// twice, like the block assembler that streams a disk to the cloud (a
// block is handed on once all its bytes are written; writing into it
// again is an error). It also wants whole 4 KiB blocks, but for 1 KiB
// superblocks, so that written blocks are complete.
type onceWriter struct {
	mu   sync.Mutex
	f    *os.File
	done [][2]int64 // written ranges, sorted, disjoint
}

func (o *onceWriter) WriteAt(p []byte, off int64) (int, error) {
	end := off + int64(len(p))
	if (off%4096 != 0 || len(p)%4096 != 0) && len(p) != 1024 {
		return 0, fmt.Errorf("write of %d bytes at %d: neither whole 4 KiB blocks nor a superblock", len(p), off)
	}
	o.mu.Lock()
	i := sort.Search(len(o.done), func(i int) bool { return o.done[i][1] > off })
	if i < len(o.done) && o.done[i][0] < end {
		o.mu.Unlock()
		return 0, fmt.Errorf("bytes [%d,%d) written twice (already written: [%d,%d))", off, end, o.done[i][0], o.done[i][1])
	}
	r := [2]int64{off, end}
	if i > 0 && o.done[i-1][1] == off {
		r[0] = o.done[i-1][0]
		i--
		o.done = append(o.done[:i], o.done[i+1:]...)
	}
	if i < len(o.done) && o.done[i][0] == end {
		r[1] = o.done[i][1]
		o.done = append(o.done[:i], o.done[i+1:]...)
	}
	o.done = append(o.done, [2]int64{})
	copy(o.done[i+1:], o.done[i:])
	o.done[i] = r
	o.mu.Unlock()
	return o.f.WriteAt(p, off)
}

func (o *onceWriter) written() int64 {
	var n int64
	for _, r := range o.done {
		n += r[1] - r[0]
	}
	return n
}

// installerOptions mirror internal/installer's partOptions (ext4 with a
// journal) and systemOptions (ext2 with a fixed inode count).
func installerOptions(label string, system bool) ext4.Options {
	o := testOptions(ext4.KindExt4, true)
	if system {
		o = testOptions(ext4.KindExt2, false)
		o.Inodes = 8192
	}
	o.Label = label
	return o
}

// TestWriteOnce builds the installer's two shapes through a writer that
// fails on any byte written twice: an ext4 partition (journal) holding a
// reserved ext2 system image written by a nested Writer while the outer
// one keeps receiving files, and an ext2 system image on its own. Both
// images must then pass e2fsck and read back with debugfs.
func TestWriteOnce(t *testing.T) {
	needTool(t, "e2fsck", "debugfs", "dumpe2fs")
	cases := []struct {
		name   string
		size   int64
		opts   ext4.Options
		nested int64 // size of a nested ext2 image, 0 for none
	}{
		{name: "ext4 partition with nested ext2", size: 300 << 20, opts: installerOptions("COS_STATE", false), nested: 64 << 20},
		{name: "ext2 system image", size: 1 << 30, opts: installerOptions("EL_SNAP1", true)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			img := filepath.Join(t.TempDir(), "fs.img")
			f, err := os.Create(img)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if err := f.Truncate(tc.size); err != nil {
				t.Fatal(err)
			}
			ow := &onceWriter{f: f}
			w, err := ext4.New(ow, tc.size, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			its := tree(false)
			if tc.nested > 0 {
				feed(t, w, []item{reg("grub2/grub.cfg", 0o644, 0, 0, []byte("set timeout=1\n"))})
				res, err := w.Reserve(&rootfs.Entry{Path: ".snapshots/1/snapshot.img", Type: rootfs.TypeReg, Mode: 0o644, ModTime: epoch}, tc.nested)
				if err != nil {
					t.Fatal(err)
				}
				buildNested(t, w, res, tc.nested, installerOptions("EL_SNAP1", true))
				if err := res.Finish(tc.nested); err != nil {
					t.Fatal(err)
				}
			} else {
				feed(t, w, its)
			}
			if err := w.Close(); err != nil {
				t.Fatalf("close: %v", err)
			}
			if ow.written() == 0 {
				t.Fatal("nothing written")
			}
			// The check itself works: the primary superblock is written.
			if _, err := ow.WriteAt([]byte{0}, 1024+0x38); err == nil {
				t.Fatal("rewriting the superblock's magic went unnoticed")
			}
			fsck(t, img)
			checkSuper(t, img, tc.opts, map[bool]string{
				true:  "ext_attr filetype sparse_super large_file",
				false: "has_journal ext_attr sparse_super2 filetype extent flex_bg sparse_super large_file huge_file dir_nlink extra_isize",
			}[tc.opts.Kind == ext4.KindExt2])
			if tc.nested == 0 {
				checkTree(t, img, expectations(its, true))
				return
			}
			nested := filepath.Join(t.TempDir(), "snapshot.img")
			debugfs(t, img, "dump .snapshots/1/snapshot.img "+nested)
			fsck(t, nested)
			checkTree(t, nested, expectations(its, true))
		})
	}
}
