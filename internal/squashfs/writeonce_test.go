package squashfs_test

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"path"
	"slices"
	"sync"
	"testing"

	"github.com/elemental-suite/elemental/internal/rootfs"
	"github.com/elemental-suite/elemental/internal/squashfs"
)

// assemblerBlock is the block size of the installer's streaming disk
// assembler, which hands a block on once every byte of it is written.
const assemblerBlock = 512 << 10

// onceWriter is an io.WriterAt that behaves like that assembler: it
// fails any write that touches a byte written before or a block already
// handed on.
type onceWriter struct {
	mu      sync.Mutex
	spans   [][2]int64 // written byte ranges, sorted, merged
	filled  []int64    // bytes written per block
	handed  int        // blocks handed on
	nwrites int
}

func (o *onceWriter) WriteAt(p []byte, off int64) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.nwrites++
	end := off + int64(len(p))
	if len(p) == 0 {
		return 0, nil
	}
	// The first span ending after off must start at or after end.
	i, _ := slices.BinarySearchFunc(o.spans, off, func(s [2]int64, off int64) int { return cmp.Compare(s[1], off+1) })
	if i < len(o.spans) && o.spans[i][0] < end {
		return 0, fmt.Errorf("write of %d bytes at %d: bytes %d to %d were written before", len(p), off, max(off, o.spans[i][0]), min(end, o.spans[i][1]))
	}
	for blk := off / assemblerBlock; blk <= (end-1)/assemblerBlock; blk++ {
		for int64(len(o.filled)) <= blk {
			o.filled = append(o.filled, 0)
		}
		if o.filled[blk] == assemblerBlock {
			return 0, fmt.Errorf("write of %d bytes at %d: block %d was handed on already", len(p), off, blk)
		}
		o.filled[blk] += min(end, (blk+1)*assemblerBlock) - max(off, blk*assemblerBlock)
		if o.filled[blk] == assemblerBlock {
			o.handed++
		}
	}
	o.spans = slices.Insert(o.spans, i, [2]int64{off, end})
	if i+1 < len(o.spans) && o.spans[i+1][0] == end {
		o.spans[i][1] = o.spans[i+1][1]
		o.spans = slices.Delete(o.spans, i+1, i+2)
	}
	if i > 0 && o.spans[i-1][1] == off {
		o.spans[i-1][1] = o.spans[i][1]
		o.spans = slices.Delete(o.spans, i, i+1)
	}
	return len(p), nil
}

// whole reports whether [0, size) was written.
func (o *onceWriter) whole(size int64) bool {
	return len(o.spans) == 1 && o.spans[0] == [2]int64{0, size}
}

// TestWriteOnce streams real trees through an assembler-like writer:
// every byte of the image is written exactly once, so a block assembler
// can hand each block on as soon as it is complete.
func TestWriteOnce(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		opts squashfs.Options
	}{
		{name: "gzip 4K", opts: squashfs.Options{BlockSize: 4 << 10, Time: epoch}},
		{name: "gzip 1M", opts: squashfs.Options{Time: epoch, Workers: 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			es := fixture(tc.opts.BlockSize, true, false)
			es = append(es, randomTree(7, 800)...)
			o := &onceWriter{}
			size, err := write(o, es, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if !o.whole(size) {
				t.Errorf("written %v, want all of the %d-byte image", o.spans, size)
			}
			if full := size / assemblerBlock; int64(o.handed) != full {
				t.Errorf("%d blocks handed on, want %d", o.handed, full)
			}
			t.Logf("%d bytes in %d writes", size, o.nwrites)
		})
	}
}

// randomTree returns n random entries: directories, files with xattrs,
// symlinks, hardlinks and devices, a third of them out of order
// (children before their parents).
func randomTree(seed uint64, n int) []testEntry {
	r := rand.New(rand.NewPCG(seed, 1))
	dirs := []string{"."}
	var files []string
	var es []testEntry
	name := func() string {
		const set = "abcAB.-_z0é"
		b := make([]byte, 1+r.IntN(12))
		for i := range b {
			b[i] = set[r.IntN(len(set)-1)]
		}
		return string(b)
	}
	for i := range n {
		p := path.Join(dirs[r.IntN(len(dirs))], name()) + fmt.Sprint(i)
		switch k := r.IntN(10); {
		case k < 2:
			dirs = append(dirs, p)
			es = append(es, dir(p, 0o755))
		case k < 7:
			e := file(p, 0o644, pattern(r.IntN(3)*r.IntN(40000), byte(i)))
			if k == 6 {
				e.Xattrs = map[string][]byte{"user.x": []byte(fmt.Sprint(i % 3))}
				e.UID = uint32(i % 5)
			}
			files = append(files, p)
			es = append(es, e)
		case k < 8:
			es = append(es, link(p, rootfs.TypeSymlink, name()))
		case k < 9 && len(files) > 0:
			es = append(es, link(p, rootfs.TypeHardlink, files[r.IntN(len(files))]))
		default:
			es = append(es, node(p, rootfs.TypeChar, 0o600, uint32(i%9), uint32(i)))
		}
	}
	// parents after children now and then
	r.Shuffle(len(es)/3, func(i, j int) { es[i], es[j] = es[j], es[i] })
	return es
}
