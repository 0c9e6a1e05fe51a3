package fat_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/elemental-suite/elemental/internal/fat"
	"github.com/elemental-suite/elemental/internal/imagetest"
	"github.com/elemental-suite/elemental/internal/rootfs"
)

// fzCheckEvery: while fuzzing, every Nth image written whole is checked
// with fsck.vfat; seed inputs always are.
const fzCheckEvery = 50

var fzClosed atomic.Int64

// FuzzWriter writes random trees with random FAT types and sizes: the
// writer must never panic nor write past the end, and whenever Close
// succeeds the image must pass fsck.vfat -n (checked on every seed and on
// every Nth image while fuzzing). Symlinks, hardlinks and devices are
// expected to be refused with an error.
func FuzzWriter(f *testing.F) {
	f.Add([]byte{0})
	f.Add([]byte("\x01\x00\x02\x00\x05abcdefghijklmnop\x02\x01\x03\x00\x07xyzxyzxyz\x05\x00\x01\x00\x00\x00"))
	f.Add([]byte("\x09\x02\x42\x00\x03\x00abcdefghijklmn\x00\x02\x00\x05sym\x01\x02\x03\x04\x05\x00\x01\x02\x03\x07\x00\x00"))
	f.Add([]byte("\x80\x02\x81\x00\x03\x00abcdefghijklmnopqrstuvwxyz0123456789"))
	f.Add(bytes.Repeat([]byte("\x00\x00\x02\x01\x41\x01\x02\x03\x04\x02\x00\x01\x0a"), 40))
	f.Add(append([]byte{0x0c}, bytes.Repeat([]byte("\x08\x01\x06\x2f\x00\x02\x01\x03\x04\x05\x06\x00\x43\x00\x06\x00"), 12)...))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := imagetest.NewFuzzInput(data)
		flags := r.Next()
		opts := fat.Options{Label: "FUZZ", VolumeID: 0x1234abcd, Time: time.Unix(1700000000, 0), FATType: []int{0, 12, 16, 32}[flags>>2&3]}
		items := imagetest.FuzzTree(r)
		if flags&0x20 == 0 { // mostly trees FAT can hold
			kept := items[:0]
			for _, it := range items {
				if it.Entry.Type == rootfs.TypeDir || it.Entry.Type == rootfs.TypeReg {
					kept = append(kept, it)
				}
			}
			items = kept
		}
		var c rootfs.Counter
		if imagetest.Feed(&c, items) != nil {
			t.Fatal("counter refused the tree")
		}
		size := fat.MinSize(c.Stats)
		switch {
		case flags&0x10 != 0:
			size /= 3 // too small: must fail cleanly, not write past the end
		case opts.FATType == 32:
			size = max(size, 40<<20)
		case opts.FATType == 16:
			size = max(size, 4<<20)
		}
		img := filepath.Join(t.TempDir(), "fs.img")
		f, err := os.Create(img)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		w, err := fat.New(&imagetest.BoundedWriter{F: f, Size: size}, size, opts)
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
		t.Logf("%d entries written (FAT type %d, %d bytes)", len(items), opts.FATType, size)
		if n := fzClosed.Add(1); imagetest.Fuzzing() && n%fzCheckEvery != 0 {
			return
		}
		if _, err := exec.LookPath("fsck.vfat"); err != nil {
			t.Skipf("needs fsck.vfat: %v", err)
		}
		f.Truncate(size)
		checkClean(t, img)
	})
}
