package ext4_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/elemental-suite/elemental/internal/ext4"
	"github.com/elemental-suite/elemental/internal/imagetest"
	"github.com/elemental-suite/elemental/internal/rootfs"
)

// fzCheckEvery: while fuzzing, every Nth image written whole is checked
// with e2fsck; seed inputs always are.
const fzCheckEvery = 50

var fzClosed atomic.Int64

// FuzzWriter writes random trees with random options: the writer must
// never panic, and whenever Close succeeds the image must pass e2fsck -fn
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
		opts := ext4.Options{Kind: ext4.KindExt2, Label: "FUZZ", Time: time.Unix(1700000000, 0)}
		if flags&1 != 0 {
			opts.Kind, opts.Journal = ext4.KindExt4, flags&2 != 0
		}
		opts.BlockSize = []int{4096, 1024, 2048, 4096}[flags>>2&3]
		items := imagetest.FuzzTree(r)
		var c rootfs.Counter
		if imagetest.Feed(&c, items) != nil {
			t.Fatal("counter refused the tree")
		}
		size := ext4.MinSize(c.Stats, opts)
		if flags&0x10 != 0 {
			size /= 3 // too small: must fail cleanly, not write past the end
		}
		img := filepath.Join(t.TempDir(), "fs.img")
		f, err := os.Create(img)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		w, err := ext4.New(&imagetest.BoundedWriter{F: f, Size: size}, size, opts)
		if err != nil {
			t.Logf("New: %v", err)
			return
		}
		if err := imagetest.Feed(w, items); err != nil {
			t.Logf("%d entries refused: %v", len(items), err)
			return
		}
		if err := w.Close(); err != nil {
			t.Logf("Close: %v", err)
			return
		}
		t.Logf("%d entries written (%v, %d-byte blocks)", len(items), opts.Kind, opts.BlockSize)
		if n := fzClosed.Add(1); imagetest.Fuzzing() && n%fzCheckEvery != 0 {
			return
		}
		if _, err := exec.LookPath("e2fsck"); err != nil {
			t.Skipf("needs e2fsck: %v", err)
		}
		f.Truncate(size)
		fsck(t, img)
	})
}
