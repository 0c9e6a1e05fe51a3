package squashfs_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/elemental-suite/elemental/internal/imagetest"
	"github.com/elemental-suite/elemental/internal/rootfs"
	"github.com/elemental-suite/elemental/internal/squashfs"
)

// fzCheckEvery: while fuzzing, every Nth image written whole is checked
// with unsquashfs; seed inputs always are.
const fzCheckEvery = 50

var fzClosed atomic.Int64

// FuzzWriter writes random trees with random compression and block
// sizes: the writer must never panic nor write past MaxSize, and whenever
// Close succeeds unsquashfs must list and extract the image without error
// (checked on every seed and on every Nth image while fuzzing).
func FuzzWriter(f *testing.F) {
	f.Add([]byte{0})
	f.Add([]byte("\x01\x00\x02\x00\x05abcdefghijklmnop\x02\x01\x03\x00\x07xyzxyzxyz\x05\x00\x01\x00\x00\x00"))
	f.Add([]byte("\x03\x02\x42\x00\x03\x00abcdefghijklmn\x00\x04\x00\x05sym\x01\x02\x03\x04\x05\x00\x01\x02\x03\x07\x00\x00"))
	f.Add([]byte("\x80\x02\x81\x00\x03\x00abcdefghijklmnopqrstuvwxyz0123456789"))
	f.Add(bytes.Repeat([]byte("\x00\x00\x02\x01\x41\x01\x02\x03\x04\x02\x00\x01\x0a"), 40))
	f.Add(bytes.Repeat([]byte("\x0e\x01\x06\x2f\x00\x02\x01\x03\x04\x05\x06\x00\x43\x00\x06\x00"), 12))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := imagetest.NewFuzzInput(data)
		flags := r.Next()
		opts := squashfs.Options{Compression: squashfs.Gzip, BlockSize: 4096 << (flags >> 1 & 7), Time: time.Unix(1700000000, 0), Workers: 2}
		if flags&1 != 0 {
			opts.Compression = squashfs.XZ
		}
		if opts.BlockSize > 1<<20 {
			opts.BlockSize = 1 << 20
		}
		items := imagetest.FuzzTree(r)
		var c rootfs.Counter
		if imagetest.Feed(&c, items) != nil {
			t.Fatal("counter refused the tree")
		}
		size := squashfs.MaxSize(c.Stats, opts)
		img := filepath.Join(t.TempDir(), "fs.img")
		f, err := os.Create(img)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		w, err := squashfs.New(&imagetest.BoundedWriter{F: f, Size: size}, opts)
		if err != nil {
			t.Logf("New: %v", err)
			return
		}
		if err := imagetest.Feed(w, items); err != nil {
			w.Close()
			t.Logf("%d entries refused: %v", len(items), err)
			return
		}
		if _, err := w.Close(); err != nil {
			t.Logf("Close: %v", err)
			return
		}
		t.Logf("%d entries written (%v, %d-byte blocks)", len(items), opts.Compression, opts.BlockSize)
		for _, it := range items {
			if strings.ContainsRune(it.Entry.Path, 0) {
				t.Fatalf("the writer accepted the name %q, which has a NUL byte", it.Entry.Path)
			}
		}
		if n := fzClosed.Add(1); imagetest.Fuzzing() && n%fzCheckEvery != 0 {
			return
		}
		if _, err := exec.LookPath("unsquashfs"); err != nil {
			t.Skipf("needs unsquashfs: %v", err)
		}
		for _, args := range [][]string{{"-lls", img}, {"-no-progress", "-no-xattrs", "-d", filepath.Join(t.TempDir(), "x"), img}} {
			if out, err := exec.Command("unsquashfs", args...).CombinedOutput(); err != nil {
				t.Fatalf("unsquashfs %v: %v\n%.4000s", args, err, out)
			}
		}
	})
}
