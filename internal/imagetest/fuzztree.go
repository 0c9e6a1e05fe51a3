package imagetest

// Random filesystem trees for the writers' fuzz targets (ext4, fat,
// squashfs): one generator, so every writer is fuzzed with the same shapes.

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path"
	"time"

	"github.com/elemental-suite/elemental/internal/rootfs"
)

// Fuzzing reports whether the fuzzing engine runs (not a seed replay).
func Fuzzing() bool {
	f := flag.Lookup("test.fuzz")
	return f != nil && f.Value.String() != ""
}

// FuzzInput hands out the fuzz input a byte at a time (zeros when empty).
type FuzzInput struct{ b []byte }

// NewFuzzInput wraps fuzz bytes.
func NewFuzzInput(data []byte) *FuzzInput { return &FuzzInput{b: data} }

// Len is the number of bytes left.
func (r *FuzzInput) Len() int { return len(r.b) }

func (r *FuzzInput) Next() byte {
	if len(r.b) == 0 {
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *FuzzInput) Take(n int) []byte {
	n = min(n, len(r.b))
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

// TreeItem is one entry of a fuzzed tree with its file data.
type TreeItem struct {
	Entry rootfs.Entry
	Data  []byte
}

// FuzzTree derives up to 48 entries from the input: directories, files
// (some sparse), symlinks, hardlinks to earlier files, devices and fifos,
// with raw-byte names (so '/', NUL, "." and 255-byte names occur), random
// modes, owners and xattrs.
func FuzzTree(r *FuzzInput) []TreeItem {
	dirs := []string{"."}
	var files []string
	var items []TreeItem
	mtime := time.Unix(1700000000, 0).UTC()
	for len(r.b) > 0 && len(items) < 48 {
		op := r.Next()
		parent := dirs[int(r.Next())%len(dirs)]
		n := 1 + int(r.Next())%20
		if op&0x80 != 0 {
			n = 255 + int(op&1) // at and over NAME_MAX
		}
		name := fuzzName(r.Take(1+n%4), n)
		if op&0x20 == 0 && n < 250 {
			name += fmt.Sprint(len(items)) // duplicates only now and then
		}
		p := path.Join(parent, name)
		e := rootfs.Entry{Path: p, Mode: uint32(r.Next())<<4 | uint32(r.Next()&0xf), UID: uint32(r.Next()), GID: uint32(r.Next()), ModTime: mtime}
		var data []byte
		switch op % 8 {
		case 0, 1:
			e.Type = rootfs.TypeDir
			dirs = append(dirs, p)
		case 2, 3:
			e.Type = rootfs.TypeReg
			size := int(r.Next()) * 97
			if op&0x40 != 0 {
				size *= 1021 // up to ~25 MiB, mostly zeros: sparse
			}
			data = make([]byte, size)
			copy(data, r.Take(64))
			e.Size = int64(size)
			files = append(files, p)
		case 4:
			e.Type = rootfs.TypeSymlink
			e.Linkname = string(bytes.Repeat([]byte("l/"), 1+int(r.Next())*8))
		case 5:
			if len(files) == 0 {
				continue
			}
			e.Type = rootfs.TypeHardlink
			e.Linkname = files[int(r.Next())%len(files)]
		case 6:
			e.Type = rootfs.TypeChar + rootfs.Type(op>>3&1)
			e.Devmajor, e.Devminor = uint32(r.Next())<<12, uint32(r.Next())<<20
		case 7:
			e.Type = rootfs.TypeFIFO
		}
		if x := r.Next(); x%4 == 0 {
			e.Xattrs = map[string][]byte{"user.f" + fmt.Sprint(x): r.Take(int(x)), "security.selinux": []byte("system_u:object_r:etc_t:s0")}
		}
		items = append(items, TreeItem{Entry: e, Data: data})
	}
	return items
}

// fuzzName builds an n-byte name from seed bytes, mostly from a safe set
// with multi-byte UTF-8, and rarely with '/', NUL or invalid UTF-8.
func fuzzName(seed []byte, n int) string {
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

// Feed adds every item; it stops at the first error.
func Feed(s rootfs.Sink, items []TreeItem) error {
	for i := range items {
		e := items[i].Entry // the writer may keep the entry
		w, err := s.Add(&e)
		if err != nil {
			return err
		}
		if w == nil {
			continue
		}
		if _, err := w.Write(items[i].Data); err != nil {
			w.Close()
			return err
		}
		if err := w.Close(); err != nil {
			return err
		}
	}
	return nil
}

// BoundedWriter fails the test when the writer writes past the filesystem.
type BoundedWriter struct {
	F    *os.File
	Size int64
}

func (b *BoundedWriter) WriteAt(p []byte, off int64) (int, error) {
	if off < 0 || off+int64(len(p)) > b.Size {
		panic(fmt.Sprintf("write of %d bytes at %d past the %d-byte filesystem", len(p), off, b.Size))
	}
	return b.F.WriteAt(p, off)
}
