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

// dirEnt is one entry of a directory listing being written: its inode,
// and the end of its name in the listing's name arena (a name starts
// where the one before it ends).
type dirEnt struct {
	ref uint64
	ino uint32
	end uint32
	typ uint16 // basic inode type
}

// runs splits a sorted directory into header runs: at most 256 entries
// whose inodes sit in one metadata block, with inode numbers within a
// signed 16-bit distance of the first. It returns where each run ends.
func runs(ents []dirEnt) []int {
	var ends []int
	start := 0
	for i := 1; i <= len(ents); i++ {
		if i < len(ents) {
			first, c := ents[start], ents[i]
			d := int64(c.ino) - int64(first.ino)
			if i-start < maxDirRun && c.ref>>16 == first.ref>>16 && d >= math.MinInt16 && d <= math.MaxInt16 {
				continue
			}
		}
		ends = append(ends, i)
		start = i
	}
	return ends
}

// listing writes a directory's entries, sorted by name, whose names are
// in names, to the directory table.
func (b *builder) listing(ents []dirEnt, names []byte) (listing, error) {
	var l listing
	l.block, l.offset = b.dirs.pos()
	begin := b.dirs.size()
	lastBlock := l.block
	name := func(i int) []byte {
		if i == 0 {
			return names[:ents[0].end]
		}
		return names[ents[i-1].end:ents[i].end]
	}
	start := 0
	for _, end := range runs(ents) {
		blk, _ := b.dirs.pos()
		if blk != lastBlock {
			l.index = append(l.index, dirIndex{index: uint32(b.dirs.size() - begin), block: blk, name: string(name(start))})
			lastBlock = blk
		}
		first := ents[start]
		rec := le(nil).u32(uint32(end - start - 1)).u32(uint32(first.ref >> 16)).u32(first.ino)
		for i := start; i < end; i++ {
			e, n := ents[i], name(i)
			rec = rec.u16(uint16(e.ref)).u16(uint16(int16(int64(e.ino) - int64(first.ino))))
			rec = rec.u16(e.typ).u16(uint16(len(n) - 1))
			rec = append(rec, n...)
		}
		if _, err := b.dirs.Write(rec); err != nil {
			return l, err
		}
		start = end
	}
	l.size = uint32(b.dirs.size() - begin)
	return l, nil
}
