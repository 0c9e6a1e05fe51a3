package fat_test

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/elemental-suite/elemental/internal/fat"
	"github.com/elemental-suite/elemental/internal/rootfs"
)

// fzFuzzing reports whether the fuzzing engine runs (not a seed replay).
func fzFuzzing() bool {
	f := flag.Lookup("test.fuzz")
	return f != nil && f.Value.String() != ""
}

// fzCheckEvery: while fuzzing, every Nth image written whole is checked
// with fsck.vfat; seed inputs always are.
const fzCheckEvery = 50

var fzClosed atomic.Int64

// fzBytes hands out the fuzz input a byte at a time (zeros when empty).
type fzBytes struct{ b []byte }

func (r *fzBytes) next() byte {
	if len(r.b) == 0 {
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *fzBytes) take(n int) []byte {
	n = min(n, len(r.b))
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

type fzItem struct {
	e    rootfs.Entry
	data []byte
}

// fzTree derives up to 48 entries from the input: directories, files
// (some sparse), symlinks, hardlinks to earlier files, devices and fifos,
// with raw-byte names (so '/', NUL, "." and 255-byte names occur), random
// modes, owners and xattrs.
func fzTree(r *fzBytes) []fzItem {
	dirs := []string{"."}
	var files []string
	var items []fzItem
	mtime := time.Unix(1700000000, 0).UTC()
	for len(r.b) > 0 && len(items) < 48 {
		op := r.next()
		parent := dirs[int(r.next())%len(dirs)]
		n := 1 + int(r.next())%20
		if op&0x80 != 0 {
			n = 255 + int(op&1) // at and over NAME_MAX
		}
		name := fzName(r.take(1+n%4), n)
		if op&0x20 == 0 && n < 250 {
			name += fmt.Sprint(len(items)) // duplicates only now and then
		}
		p := path.Join(parent, name)
		e := rootfs.Entry{Path: p, Mode: uint32(r.next())<<4 | uint32(r.next()&0xf), UID: uint32(r.next()), GID: uint32(r.next()), ModTime: mtime}
		var data []byte
		switch op % 8 {
		case 0, 1:
			e.Type = rootfs.TypeDir
			dirs = append(dirs, p)
		case 2, 3:
			e.Type = rootfs.TypeReg
			size := int(r.next()) * 97
			if op&0x40 != 0 {
				size *= 1021 // up to ~25 MiB, mostly zeros: sparse
			}
			data = make([]byte, size)
			copy(data, r.take(64))
			e.Size = int64(size)
			files = append(files, p)
		case 4:
			e.Type = rootfs.TypeSymlink
			e.Linkname = string(bytes.Repeat([]byte("l/"), 1+int(r.next())*8))
		case 5:
			if len(files) == 0 {
				continue
			}
			e.Type = rootfs.TypeHardlink
			e.Linkname = files[int(r.next())%len(files)]
		case 6:
			e.Type = rootfs.TypeChar + rootfs.Type(op>>3&1)
			e.Devmajor, e.Devminor = uint32(r.next())<<12, uint32(r.next())<<20
		case 7:
			e.Type = rootfs.TypeFIFO
		}
		if x := r.next(); x%4 == 0 {
			e.Xattrs = map[string][]byte{"user.f" + fmt.Sprint(x): r.take(int(x)), "security.selinux": []byte("system_u:object_r:etc_t:s0")}
		}
		items = append(items, fzItem{e: e, data: data})
	}
	return items
}

// fzName builds an n-byte name from seed bytes, mostly from a safe set
// with multi-byte UTF-8, and rarely with '/', NUL or invalid UTF-8.
func fzName(seed []byte, n int) string {
	const set = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-~ é"
	if len(seed) == 0 {
		seed = []byte{0}
	}
	var b []byte
	for i := 0; len(b) < n; i++ {
		c := seed[i%len(seed)] + byte(i)
		switch c {
		case 250:
			b = append(b, '/')
		case 251:
			b = append(b, 0)
		case 252:
			b = append(b, 0xff)
		default:
			b = append(b, set[int(c)%len(set)])
		}
	}
	return string(b[:n])
}

// fzFeed adds every item; it stops at the first error.
func fzFeed(s rootfs.Sink, items []fzItem) error {
	for i := range items {
		e := items[i].e // the writer may keep the entry
		w, err := s.Add(&e)
		if err != nil {
			return err
		}
		if w == nil {
			continue
		}
		if _, err := w.Write(items[i].data); err != nil {
			w.Close()
			return err
		}
		if err := w.Close(); err != nil {
			return err
		}
	}
	return nil
}

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
		r := &fzBytes{b: data}
		flags := r.next()
		opts := fat.Options{Label: "FUZZ", VolumeID: 0x1234abcd, Time: time.Unix(1700000000, 0), FATType: []int{0, 12, 16, 32}[flags>>2&3]}
		items := fzTree(r)
		if flags&0x20 == 0 { // mostly trees FAT can hold
			kept := items[:0]
			for _, it := range items {
				if it.e.Type == rootfs.TypeDir || it.e.Type == rootfs.TypeReg {
					kept = append(kept, it)
				}
			}
			items = kept
		}
		var c rootfs.Counter
		if fzFeed(&c, items) != nil {
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
		w, err := fat.New(&fzBounded{f: f, size: size}, size, opts)
		if err != nil {
			t.Logf("New: %v", err)
			return
		}
		if err := fzFeed(w, items); err != nil {
			t.Logf("%d entries refused: %v", len(items), err)
			return
		}
		if err := w.Close(); err != nil {
			t.Logf("Close: %v", err)
			return
		}
		t.Logf("%d entries written (FAT type %d, %d bytes)", len(items), opts.FATType, size)
		if n := fzClosed.Add(1); fzFuzzing() && n%fzCheckEvery != 0 {
			return
		}
		if _, err := exec.LookPath("fsck.vfat"); err != nil {
			t.Skipf("needs fsck.vfat: %v", err)
		}
		f.Truncate(size)
		checkClean(t, img)
	})
}

// fzBounded fails the test when the writer writes past the filesystem.
type fzBounded struct {
	f    *os.File
	size int64
}

func (b *fzBounded) WriteAt(p []byte, off int64) (int, error) {
	if off < 0 || off+int64(len(p)) > b.size {
		panic(fmt.Sprintf("write of %d bytes at %d past the %d-byte filesystem", len(p), off, b.size))
	}
	return b.f.WriteAt(p, off)
}
