package squashfs

import "math"

// maxDirRun is the most entries one directory header may cover.
const maxDirRun = 256

// listing is where a directory's entries were written in the directory
// table.
type listing struct {
	block  uint32 // table offset of the metadata block it starts in
	offset uint16 // offset into that block
	size   uint32 // bytes of headers and entries
	index  []dirIndex
}

// dirIndex lets the kernel skip to the header holding a name in a large
// directory: index is the header's offset in the listing, block the
// metadata block it is in, name the first name after it.
type dirIndex struct {
	index uint32
	block uint32
	name  string
}

// runs splits a sorted directory into header runs: at most 256 entries
// whose inodes sit in one metadata block, with inode numbers within a
// signed 16-bit distance of the first.
func runs(children []*node) [][]*node {
	var out [][]*node
	start := 0
	for i := 1; i <= len(children); i++ {
		if i < len(children) {
			first, c := inode(children[start]), inode(children[i])
			d := int64(c.ino) - int64(first.ino)
			if i-start < maxDirRun && c.ref>>16 == first.ref>>16 && d >= math.MinInt16 && d <= math.MaxInt16 {
				continue
			}
		}
		out = append(out, children[start:i])
		start = i
	}
	return out
}

// listing writes d's entries (sorted by postorder) to the directory table.
func (b *builder) listing(d *node) (listing, error) {
	var l listing
	l.block, l.offset = b.dirs.pos()
	begin := b.dirs.size()
	lastBlock := l.block
	for _, run := range runs(d.dir.children) {
		blk, _ := b.dirs.pos()
		if blk != lastBlock {
			l.index = append(l.index, dirIndex{index: uint32(b.dirs.size() - begin), block: blk, name: run[0].name})
			lastBlock = blk
		}
		first := inode(run[0])
		rec := le(nil).u32(uint32(len(run) - 1)).u32(uint32(first.ref >> 16)).u32(first.ino)
		for _, c := range run {
			in := inode(c)
			rec = rec.u16(uint16(in.ref)).u16(uint16(int16(int64(in.ino) - int64(first.ino))))
			rec = rec.u16(basicType(in.typ())).u16(uint16(len(c.name) - 1)).str(c.name)
		}
		if _, err := b.dirs.Write(rec); err != nil {
			return l, err
		}
	}
	l.size = uint32(b.dirs.size() - begin)
	return l, nil
}
