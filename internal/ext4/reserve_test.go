package ext4_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"testing"

	"github.com/elemental-suite/elemental/internal/ext4"
	"github.com/elemental-suite/elemental/internal/rootfs"
)

// TestReserveNested builds an ext2 image with a second Writer straight
// into a Reservation of an outer filesystem while the outer one keeps
// receiving files from another goroutine, then checks both with e2fsck
// and that the nested file is one contiguous run.
func TestReserveNested(t *testing.T) {
	needTool(t, "e2fsck", "debugfs", "dumpe2fs")
	cases := []struct {
		name  string
		outer ext4.Kind
		max   int64
		inner int64
	}{
		{name: "ext4 outer", outer: ext4.KindExt4, max: 200 << 20, inner: 48 << 20},
		{name: "ext2 outer", outer: ext4.KindExt2, max: 100 << 20, inner: 40 << 20},
	}
	const size = 400 << 20
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			img := filepath.Join(t.TempDir(), "outer.img")
			f, err := os.Create(img)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if err := f.Truncate(size); err != nil {
				t.Fatal(err)
			}
			outer, err := ext4.New(f, size, testOptions(tc.outer, tc.outer == ext4.KindExt4))
			if err != nil {
				t.Fatal(err)
			}
			feed(t, outer, []item{reg("grub2/grub.cfg", 0o644, 0, 0, []byte("set timeout=1\n"))})
			res, err := outer.Reserve(&rootfs.Entry{Path: "cOS/active.img", Type: rootfs.TypeReg, Mode: 0o600, ModTime: epoch}, tc.max)
			if err != nil {
				t.Fatal(err)
			}
			innerOpts := testOptions(ext4.KindExt2, false)
			innerOpts.Label = "EL_SNAP1"
			buildNested(t, outer, res, tc.inner, innerOpts)
			if err := res.Finish(tc.inner); err != nil {
				t.Fatal(err)
			}
			if err := outer.Close(); err != nil {
				t.Fatal(err)
			}
			fsck(t, img)
			checkContiguous(t, img, "cOS/active.img", tc.inner/4096, res.Offset())

			nested := filepath.Join(t.TempDir(), "active.img")
			debugfs(t, img, "dump cOS/active.img "+nested)
			if fi, err := os.Stat(nested); err != nil || fi.Size() != tc.inner {
				t.Fatalf("dumped nested image: %v %v", fi, err)
			}
			fsck(t, nested)
			checkSuper(t, nested, innerOpts, "ext_attr filetype sparse_super large_file")
			checkTree(t, nested, expectations(tree(false), true))

			// The freed tail is usable again: the fs reports it free.
			if free := atoi(field(t, run(t, "dumpe2fs", "-h", img), "Free blocks")); free*4096 < size-tc.inner-60<<20 {
				t.Errorf("only %d free blocks after Finish", free)
			}
		})
	}
}

// buildNested writes the test tree as a filesystem of size bytes into res
// while another goroutine adds 50 files to outer.
func buildNested(t *testing.T, outer *ext4.Writer, res *ext4.Reservation, size int64, opts ext4.Options) {
	t.Helper()
	var wg sync.WaitGroup
	errc := make(chan error, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range 50 {
			e := rootfs.Entry{Path: fmt.Sprintf("other/f%02d", i), Type: rootfs.TypeReg, Mode: 0o644, Size: 100000}
			w, err := outer.Add(&e)
			if err == nil {
				_, err = w.Write(randBytes(uint64(i), 100000))
			}
			if err == nil {
				err = w.Close()
			}
			if err != nil {
				errc <- err
				return
			}
		}
	}()
	inner, err := ext4.New(res, size, opts)
	if err != nil {
		t.Fatal(err)
	}
	feed(t, inner, tree(false))
	if err := inner.Close(); err != nil {
		t.Fatal(err)
	}
	if inner.Size() != size {
		t.Errorf("inner size %d, want %d", inner.Size(), size)
	}
	wg.Wait()
	select {
	case err := <-errc:
		t.Fatalf("outer stream: %v", err)
	default:
	}
}

// checkContiguous asserts that p's blocks are one run starting at byte
// offset off (debugfs bmap of the first and last block, and blockcount
// allowing for block-map blocks).
func checkContiguous(t *testing.T, img, p string, blocks, off int64) {
	t.Helper()
	num := regexp.MustCompile(`\d+`)
	first := atoi(num.FindString(debugfs(t, img, fmt.Sprintf("bmap %s 0", p))))
	last := atoi(num.FindString(debugfs(t, img, fmt.Sprintf("bmap %s %d", p, blocks-1))))
	st := debugfs(t, img, "stat "+p)
	m := statRE["links"].FindStringSubmatch(st)
	if m == nil || atoi(m[2]) < blocks*8 || atoi(m[2]) > (blocks+blocks/1000+4)*8 || last-first != blocks-1 || first*4096 != off {
		t.Errorf("%s not contiguous: first %d last %d blockcount %v offset %d\n%s", p, first, last, m, off, st)
	}
}

func TestReserveErrors(t *testing.T) {
	img := filepath.Join(t.TempDir(), "fs.img")
	f, err := os.Create(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := ext4.New(f, 64<<20, testOptions(ext4.KindExt4, false))
	if err != nil {
		t.Fatal(err)
	}
	e := rootfs.Entry{Path: "a.img", Type: rootfs.TypeReg, Mode: 0o644}
	if _, err := w.Reserve(&e, 100<<20); !errors.Is(err, ext4.ErrNoSpace) {
		t.Errorf("reserving more than the fs: %v, want ErrNoSpace", err)
	}
	r, err := w.Reserve(&e, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.WriteAt(make([]byte, 10), 1<<20-5); err == nil {
		t.Error("write past the reservation succeeded")
	}
	if err := r.Finish(2 << 20); err == nil {
		t.Error("finish beyond max succeeded")
	}
	if err := w.Close(); err == nil || !regexp.MustCompile(`a\.img`).MatchString(err.Error()) {
		t.Errorf("close with an unfinished reservation: %v", err)
	}
}
