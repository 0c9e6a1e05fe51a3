package ext4_test

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/elemental-suite/elemental/internal/ext4"
	"github.com/elemental-suite/elemental/internal/rootfs"
)

// TestHeapPerFile guards issue 7: a closed regular file leaves (almost)
// nothing on the writer's heap, so memory stays flat in the number of
// files. It adds 15 000 files in 150 directories (some with data, some
// hardlinked) and measures the live heap before Close. Not parallel: the
// measurement needs the heap to itself.
func TestHeapPerFile(t *testing.T) {
	needTool(t, "e2fsck")
	const files, dirs, maxPerFile = 15000, 150, 40
	for _, kind := range []ext4.Kind{ext4.KindExt2, ext4.KindExt4} {
		t.Run(kind.String(), func(t *testing.T) {
			img := filepath.Join(t.TempDir(), "fs.img")
			f, err := os.Create(img)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			const size = 512 << 20
			if err := f.Truncate(size); err != nil {
				t.Fatal(err)
			}
			opts := testOptions(kind, kind == ext4.KindExt4)
			opts.Inodes = 40000
			w, err := ext4.New(f, size, opts)
			if err != nil {
				t.Fatal(err)
			}
			// The heap is measured after the first 1000 files (buffers and
			// directories exist by then) and after the last.
			heap := func() int64 {
				var m runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&m)
				return int64(m.HeapAlloc)
			}
			data := randBytes(1, 5000)
			var its []item
			for i := range files {
				p := fmt.Sprintf("dir-%03d/a-file-with-a-name-of-some-length-%05d", i%dirs, i)
				its = append(its, reg(p, 0o644, 0, 0, data[:i%10*500]))
				if i%1000 == 999 {
					its = append(its, item{e: rootfs.Entry{Path: p + ".link", Type: rootfs.TypeHardlink, Linkname: p}})
				}
			}
			feed(t, w, its[:1000])
			base := heap()
			feed(t, w, its[1000:])
			per := (heap() - base) / int64(len(its)-1000)
			runtime.KeepAlive(its)
			t.Logf("%d bytes of live heap per file", per)
			if per > maxPerFile {
				t.Errorf("%d bytes of live heap per file, want at most %d", per, maxPerFile)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			fsck(t, img)
		})
	}
}
