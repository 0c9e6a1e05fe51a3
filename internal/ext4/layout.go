package ext4

import (
	"cmp"
	"fmt"
	"slices"
)

// extent is a run of blocks [start, start+n).
type extent struct{ start, n int64 }

func (e extent) end() int64 { return e.start + e.n }

// layout is the fixed geometry of a filesystem: groups, where every group's
// superblock copy, descriptors, bitmaps and inode table live.
type layout struct {
	bs        int64 // block size in bytes
	fdb       int64 // first data block (1 for 1 KiB blocks)
	blocks    int64 // blocks in the filesystem
	groups    int64
	bpg       int64 // blocks per group
	ipg       int64 // inodes per group
	itb       int64 // inode table blocks per group
	gdtBlocks int64
	flex      bool     // ext4: metadata packed at the front, sparse_super2
	backup    [2]int64 // sparse_super2 backup groups (0 = none)
	bbitmap   []int64
	ibitmap   []int64
	itable    []int64
	meta      []extent // all of the above plus superblocks, sorted, merged
}

const maxBlocks = 1<<32 - 1

func newLayout(size int64, o Options) (*layout, error) {
	bs := int64(o.BlockSize)
	l := &layout{bs: bs, bpg: 8 * bs, flex: o.ext4()}
	if bs == 1024 {
		l.fdb = 1
	}
	l.blocks = size / bs
	if l.blocks > maxBlocks {
		return nil, fmt.Errorf("filesystem size %d needs more than 2^32 blocks of %d bytes", size, bs)
	}
	for {
		if l.blocks-l.fdb < 16 {
			return nil, fmt.Errorf("filesystem size %d is too small: %w", size, ErrNoSpace)
		}
		l.groups = (l.blocks - l.fdb + l.bpg - 1) / l.bpg
		if err := l.setInodes(size, o); err != nil {
			return nil, err
		}
		l.setBackups()
		rem := (l.blocks - l.fdb) % l.bpg
		last := l.groups - 1
		over := l.groupOverhead(last)
		if rem == 0 || rem >= over+50 || (l.groups == 1 && rem >= over+16) {
			break
		}
		if l.groups == 1 {
			return nil, fmt.Errorf("filesystem size %d is too small: %w", size, ErrNoSpace)
		}
		l.blocks -= rem
	}
	l.gdtBlocks = (l.groups*32 + bs - 1) / bs
	if err := l.place(); err != nil {
		return nil, fmt.Errorf("filesystem size %d: %w", size, err)
	}
	return l, nil
}

func (l *layout) setInodes(size int64, o Options) error {
	want := o.Inodes
	if want == 0 {
		ratio := int64(16384)
		if l.blocks*l.bs < 512<<20 {
			ratio = 4096
		}
		want = l.blocks * l.bs / ratio
	}
	want = max(want, 32)
	perBlock := l.bs / inodeSize
	ipg := (want + l.groups - 1) / l.groups
	unit := max(perBlock, 8)
	ipg = (ipg + unit - 1) / unit * unit
	if ipg > 8*l.bs {
		if o.Inodes != 0 {
			return fmt.Errorf("%d inodes do not fit in %d groups", o.Inodes, l.groups)
		}
		ipg = 8 * l.bs
	}
	if ipg*l.groups > maxBlocks {
		return fmt.Errorf("%d inodes are more than 2^32", ipg*l.groups)
	}
	l.ipg = ipg
	l.itb = ipg / perBlock
	return nil
}

// setBackups picks the sparse_super2 backup groups the way mke2fs does.
func (l *layout) setBackups() {
	if !l.flex {
		return
	}
	b := [2]int64{1, l.groups - 1}
	b[0] = min(b[0], l.groups-1)
	if b[1] == b[0] {
		b[1] = 0
	}
	if b[0] > b[1] {
		b[0], b[1] = b[1], b[0]
	}
	l.backup = b
}

func (l *layout) hasSuper(g int64) bool {
	if g == 0 {
		return true
	}
	if l.flex {
		return g == l.backup[0] || g == l.backup[1]
	}
	if g == 1 {
		return true
	}
	for _, p := range []int64{3, 5, 7} {
		n := p
		for n < g {
			n *= p
		}
		if n == g {
			return true
		}
	}
	return false
}

func (l *layout) groupStart(g int64) int64 { return l.fdb + g*l.bpg }

func (l *layout) groupEnd(g int64) int64 { return min(l.groupStart(g+1), l.blocks) }

// groupOverhead is the number of metadata blocks inside group g.
func (l *layout) groupOverhead(g int64) int64 {
	var n int64
	if l.hasSuper(g) {
		n = 1 + (l.groups*32+l.bs-1)/l.bs
	}
	if !l.flex {
		n += 2 + l.itb
	}
	return n
}

func (l *layout) place() error {
	l.bbitmap = make([]int64, l.groups)
	l.ibitmap = make([]int64, l.groups)
	l.itable = make([]int64, l.groups)
	var supers []extent
	for g := range l.groups {
		if l.hasSuper(g) {
			supers = append(supers, extent{l.groupStart(g), 1 + l.gdtBlocks})
		}
	}
	l.meta = slices.Clone(supers)
	if !l.flex {
		for g := range l.groups {
			p := l.groupStart(g) + l.groupOverhead(g) - 2 - l.itb
			l.bbitmap[g], l.ibitmap[g], l.itable[g] = p, p+1, p+2
			if p+2+l.itb > l.groupEnd(g) {
				return fmt.Errorf("group %d has no room for its inode table: %w", g, ErrNoSpace)
			}
			l.meta = append(l.meta, extent{p, 2 + l.itb})
		}
		l.meta = mergeExtents(l.meta)
		return nil
	}
	p := l.fdb + 1 + l.gdtBlocks
	take := func(n int64) int64 {
		for _, s := range supers {
			if p < s.end() && p+n > s.start {
				p = s.end()
			}
		}
		at := p
		p += n
		l.meta = append(l.meta, extent{at, n})
		return at
	}
	for g := range l.groups {
		l.bbitmap[g] = take(1)
	}
	for g := range l.groups {
		l.ibitmap[g] = take(1)
	}
	for g := range l.groups {
		l.itable[g] = take(l.itb)
	}
	if p > l.blocks {
		return fmt.Errorf("group metadata needs %d blocks: %w", p, ErrNoSpace)
	}
	l.meta = mergeExtents(l.meta)
	return nil
}

// free returns the blocks not taken by fixed metadata, in order.
func (l *layout) free() []extent {
	var out []extent
	p := l.fdb
	for _, m := range l.meta {
		if m.start > p {
			out = append(out, extent{p, m.start - p})
		}
		p = max(p, m.end())
	}
	if p < l.blocks {
		out = append(out, extent{p, l.blocks - p})
	}
	return out
}

func (l *layout) inodes() int64 { return l.ipg * l.groups }

// mergeExtents sorts and coalesces overlapping or adjacent extents.
func mergeExtents(es []extent) []extent {
	slices.SortFunc(es, func(a, b extent) int { return cmp.Compare(a.start, b.start) })
	var out []extent
	for _, e := range es {
		if n := len(out); n > 0 && e.start <= out[n-1].end() {
			out[n-1].n = max(out[n-1].end(), e.end()) - out[n-1].start
			continue
		}
		out = append(out, e)
	}
	return out
}

// journalBlocks is mke2fs' default journal size for a filesystem of n
// blocks (ext2fs_default_journal_size), or 0 when it is too small.
func journalBlocks(n int64) int64 {
	switch {
	case n < 2048:
		return 0
	case n < 32768:
		return 1024
	case n < 256*1024:
		return 4096
	case n < 512*1024:
		return 8192
	case n < 4096*1024:
		return 16384
	case n < 8192*1024:
		return 32768
	case n < 16384*1024:
		return 65536
	case n < 32768*1024:
		return 131072
	}
	return 262144
}
