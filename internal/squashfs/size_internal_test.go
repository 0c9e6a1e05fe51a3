package squashfs

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/elemental-suite/elemental/internal/rootfs"
)

// discard is an io.WriterAt that keeps nothing.
type discard struct{}

func (discard) WriteAt(p []byte, _ int64) (int, error) { return len(p), nil }

// TestHeapPerEntry guards the per-entry memory held until Close (issue 7):
// regular files, symlinks and devices live in the spill file, so the heap
// grows by a child (4 bytes) per entry plus slice slack and a few
// directories.
func TestHeapPerEntry(t *testing.T) {
	const dirs, perDir, warmup = 50, 1000, 5000
	w, err := New(discard{}, Options{Workers: 1, BlockSize: 4096, TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("0123456789")
	add := func(e *rootfs.Entry) {
		fw, err := w.Add(e)
		if err == nil && fw != nil {
			_, err = fw.Write(data[:e.Size])
			err = cmpOr(err, fw.Close())
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	var before, after runtime.MemStats
	for i := range dirs * perDir {
		if i == warmup {
			// The compressors and buffers are made by now.
			runtime.GC()
			runtime.ReadMemStats(&before)
		}
		p := fmt.Sprintf("usr/share/d%03d/entry-%07d", i%dirs, i)
		switch i % 10 {
		case 0:
			add(&rootfs.Entry{Path: p, Type: rootfs.TypeSymlink, Linkname: "../target", Mode: 0o777})
		case 1:
			add(&rootfs.Entry{Path: p, Type: rootfs.TypeChar, Devmajor: 1, Devminor: 3, Mode: 0o666})
		default:
			add(&rootfs.Entry{Path: p, Type: rootfs.TypeReg, Size: int64(i % 11), Mode: 0o644, UID: uint32(i % 3)})
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	perEntry := float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / (dirs*perDir - warmup)
	t.Logf("%.1f bytes of heap per entry", perEntry)
	if perEntry > 12 {
		t.Errorf("the writer holds %.1f bytes of heap per entry, want at most 12", perEntry)
	}
	if _, err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func cmpOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}
