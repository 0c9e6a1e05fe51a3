package squashfs_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/elemental-suite/elemental/internal/rootfs"
	"github.com/elemental-suite/elemental/internal/squashfs"
)

// memImage is an in-memory io.WriterAt.
type memImage struct{ b []byte }

func (m *memImage) WriteAt(p []byte, off int64) (int, error) {
	if end := int(off) + len(p); end > len(m.b) {
		m.b = append(m.b, make([]byte, end-len(m.b))...)
	}
	return copy(m.b[off:], p), nil
}

func TestReproducible(t *testing.T) {
	t.Parallel()
	for _, c := range []squashfs.Compression{squashfs.Gzip, squashfs.XZ} {
		t.Run(c.String(), func(t *testing.T) {
			t.Parallel()
			es := fixture(64<<10, true, false)
			var sums [][32]byte
			for _, workers := range []int{1, 3} {
				var m memImage
				size, err := write(&m, es, squashfs.Options{Compression: c, BlockSize: 64 << 10, Workers: workers, Time: epoch})
				if err != nil {
					t.Fatal(err)
				}
				if int64(len(m.b)) != size {
					t.Errorf("wrote %d bytes, Close said %d", len(m.b), size)
				}
				sums = append(sums, sha256.Sum256(m.b))
			}
			if sums[0] != sums[1] {
				t.Errorf("builds with 1 and 3 workers differ: %x != %x", sums[0], sums[1])
			}
		})
	}
}

func TestMaxSize(t *testing.T) {
	t.Parallel()
	// Incompressible data in every shape: whole blocks, tails, tiny
	// files, plus names, symlinks and xattrs.
	es := []testEntry{file("r/big", 0o644, randomBytes(3<<20+17, 9)), file("r/one", 0o644, randomBytes(64<<10, 8))}
	for i := range 300 {
		e := file(fmt.Sprintf("r/d%d/%s%d", i%10, strings.Repeat("x", i%200), i), 0o644, randomBytes(i*37, uint64(i)))
		e.Xattrs = map[string][]byte{"user.k": randomBytes(i%50, 3)}
		es = append(es, e, link(fmt.Sprintf("r/l%d", i), rootfs.TypeSymlink, strings.Repeat("t", i+1)))
	}
	for i := range 10 {
		es = append(es, dir(fmt.Sprintf("r/d%d", i), 0o755))
	}
	// Sparse shapes: MaxSize bounds them by their data, not their length.
	mixed := randomBytes(3<<20, 11)
	for off := 0; off < len(mixed); off += 3 * 4096 {
		clear(mixed[off : off+4096])
	}
	sparse := make([]byte, 48<<20)
	copy(sparse[20<<20:], randomBytes(8192, 12))
	es = append(es, file("r/mixed", 0o644, mixed), file("r/sparse", 0o644, sparse))
	es = append(es, dir("r", 0o755))
	for _, tc := range []struct {
		name string
		opts squashfs.Options
	}{
		{name: "gzip 64K", opts: squashfs.Options{BlockSize: 64 << 10}},
		{name: "gzip 4K", opts: squashfs.Options{BlockSize: 4 << 10}},
		{name: "xz 1M", opts: squashfs.Options{Compression: squashfs.XZ}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c rootfs.Counter
			for i := range es {
				if err := addEntry(&c, &es[i]); err != nil {
					t.Fatal(err)
				}
			}
			size, err := write(&memImage{}, es, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			bound := squashfs.MaxSize(c.Stats, tc.opts)
			if size > bound {
				t.Errorf("image is %d bytes, MaxSize said %d", size, bound)
			}
			if bound > 2*size+1<<20 {
				t.Errorf("MaxSize %d is more than twice the image (%d bytes)", bound, size)
			}
		})
	}
}

// TestLargeFile checks a sparse file over 4 GiB (extended inode, 64-bit
// size) through unsquashfs -lln and, as root, a kernel mount.
func TestLargeFile(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 4 GiB sparse file")
	}
	needTool(t, "unsquashfs")
	t.Parallel()
	const size = 4<<30 + 100
	tail := randomBytes(5000, 4)
	big := testEntry{Entry: rootfs.Entry{Path: "huge", Type: rootfs.TypeReg, Mode: 0o644, Size: size, ModTime: epoch},
		gen: sparseGen(size, map[int64][]byte{size - 5000: tail}, []int64{size - 5000})}
	img, _ := build(t, []testEntry{big}, squashfs.Options{Time: epoch})
	x := expect([]testEntry{big}, epoch)
	checkListing(t, img, x)
	if os.Geteuid() != 0 {
		t.Skip("mounting needs root")
	}
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "squashfs", "-o", "loop,ro", img, mnt).CombinedOutput(); err != nil {
		t.Skipf("kernel cannot loop-mount here (mount -o loop): %v: %s", err, out)
	}
	defer exec.Command("umount", mnt).Run()
	f, err := os.Open(mnt + "/huge")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got := make([]byte, 6000)
	if _, err := f.ReadAt(got, size-6000); err != nil && !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	if want := append(make([]byte, 1000), tail...); !bytes.Equal(got, want) {
		t.Errorf("the last 6000 bytes of the file differ")
	}
}
