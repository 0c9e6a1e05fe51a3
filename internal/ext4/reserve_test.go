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
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			img := filepath.Join(t.TempDir(), "outer.img")
			f, err := os.Create(img)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			const size = 400 << 20
			f.Truncate(size)
			outer, err := ext4.New(f, size, testOptions(tc.outer, tc.outer == ext4.KindExt4))
			if err != nil {
				t.Fatal(err)
			}
			feed(t, outer, []item{reg("grub2/grub.cfg", 0o644, 0, 0, []byte("set timeout=1\n"))})
			res, err := outer.Reserve(&rootfs.Entry{Path: "cOS/active.img", Type: rootfs.TypeReg, Mode: 0o600, ModTime: epoch}, tc.max)
			if err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			errc := make(chan error, 1)
			wg.Add(1)
			go func() { // the outer stream goes on meanwhile
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
			innerOpts := testOptions(ext4.KindExt2, false)
			innerOpts.Label = "EL_SNAP1"
			inner, err := ext4.New(res, tc.inner, innerOpts)
			if err != nil {
				t.Fatal(err)
			}
			feed(t, inner, tree(false))
			if err := inner.Close(); err != nil {
				t.Fatal(err)
			}
			wg.Wait()
			select {
			case err := <-errc:
				t.Fatalf("outer stream: %v", err)
			default:
			}
			if err := res.Finish(tc.inner); err != nil {
				t.Fatal(err)
			}
			if err := outer.Close(); err != nil {
				t.Fatal(err)
			}
			fsck(t, img)

			blocks := tc.inner / 4096
			first := atoi(regexp.MustCompile(`\d+`).FindString(debugfs(t, img, "bmap cOS/active.img 0")))
			last := atoi(regexp.MustCompile(`\d+`).FindString(debugfs(t, img, fmt.Sprintf("bmap cOS/active.img %d", blocks-1))))
			st := debugfs(t, img, "stat cOS/active.img")
			m := statRE["links"].FindStringSubmatch(st)
			if m == nil || atoi(m[2]) < blocks*8 || atoi(m[2]) > (blocks+blocks/1000+4)*8 || last-first != blocks-1 || first*4096 != res.Offset() {
				t.Errorf("nested image not contiguous: first %d last %d blockcount %v offset %d\n%s", first, last, m, res.Offset(), st)
			}

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
