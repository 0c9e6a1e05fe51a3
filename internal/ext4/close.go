package ext4

import (
	"fmt"
	"strings"
)

// lookup finds the directory entry at p.
func (w *Writer) lookup(p string) (*dir, int, bool) {
	d := w.inode(rootIno).dir
	parts := strings.Split(p, "/")
	for i, name := range parts {
		idx, ok := d.index[name]
		if !ok {
			return nil, 0, false
		}
		if i == len(parts)-1 {
			return d, idx, true
		}
		ino := d.ents[idx].ino
		if ino == 0 || w.inode(ino).dir == nil {
			return nil, 0, false
		}
		d = w.inode(ino).dir
	}
	return nil, 0, false
}

// resolveLinks points every hardlink at its target's inode.
func (w *Writer) resolveLinks() error {
	byEnt := map[*dent]int{}
	for i, p := range w.pending {
		byEnt[&p.dir.ents[p.idx]] = i
	}
	var resolve func(i, depth int) (int64, error)
	resolve = func(i, depth int) (int64, error) {
		p := w.pending[i]
		if ino := p.dir.ents[p.idx].ino; ino != 0 {
			return ino, nil
		}
		d, idx, ok := w.lookup(p.target)
		if !ok || p.target == "." {
			return 0, fmt.Errorf("hardlink %q: target %q not found", p.path, p.target)
		}
		ino := d.ents[idx].ino
		if ino == 0 {
			j, ok := byEnt[&d.ents[idx]]
			if !ok || depth > 64 {
				return 0, fmt.Errorf("hardlink %q: target %q does not resolve", p.path, p.target)
			}
			var err error
			if ino, err = resolve(j, depth+1); err != nil {
				return 0, err
			}
		}
		if w.inode(ino).dir != nil {
			return 0, fmt.Errorf("hardlink %q: target %q is a directory", p.path, p.target)
		}
		p.dir.ents[p.idx].ino = ino
		w.inode(ino).links++
		return ino, nil
	}
	for i := range w.pending {
		if _, err := resolve(i, 0); err != nil {
			return err
		}
	}
	return nil
}

// countLinks sets directory link counts and checks file link counts.
func (w *Writer) countLinks() error {
	for ino := int64(1); ino <= int64(len(w.inodes)); ino++ {
		in := w.inodes[ino-1]
		if in == nil {
			continue
		}
		if in.dir == nil {
			if in.links > 65000 {
				return fmt.Errorf("%q has %d hardlinks, more than 65000", w.pathOf(ino), in.links)
			}
			continue
		}
		in.links = 2
		for _, e := range in.dir.ents {
			if w.inode(e.ino).dir != nil {
				in.links++
			}
		}
		if in.links >= 65000 {
			if !w.opts.ext4() {
				return fmt.Errorf("directory %q has too many subdirectories for ext2", w.pathOf(ino))
			}
			in.links = 1 // dir_nlink
		}
	}
	return nil
}

type eaBlock struct {
	blk  int64
	refs uint32
	data []byte
}

// placeXattrs puts attributes in the inode when they fit (ext4) and in
// shared attribute blocks otherwise.
func (w *Writer) placeXattrs() error {
	shared := map[string]*eaBlock{}
	var blocks []*eaBlock
	for ino := int64(1); ino <= int64(len(w.inodes)); ino++ {
		in := w.inodes[ino-1]
		if in == nil || in.x == nil || len(in.x.xattrs) == 0 {
			continue
		}
		x := in.x
		need := xattrsLen(x.xattrs)
		if w.opts.ext4() && need <= inodeXattrSpace {
			x.inXattr = make([]byte, inodeXattrSpace)
			encodeXattrs(x.inXattr, 0, 0, x.xattrs)
			continue
		}
		if int64(need+32) > w.lay.bs {
			return fmt.Errorf("xattrs of %q: %d bytes do not fit in a block", w.pathOf(ino), need)
		}
		data := xattrBlock(x.xattrs, int(w.lay.bs))
		eb := shared[string(data)]
		if eb == nil || eb.refs >= maxXattrRefs {
			blk, err := w.allocMeta(ino)
			if err != nil {
				return err
			}
			eb = &eaBlock{blk: blk, data: data}
			shared[string(data)] = eb
			blocks = append(blocks, eb)
		}
		eb.refs++
		x.eaBlock = eb.blk
		in.meta++
	}
	for _, eb := range blocks {
		le.PutUint32(eb.data[4:], eb.refs)
		if err := w.writeBlocks(eb.data, eb.blk); err != nil {
			return fmt.Errorf("writing xattr block %d: %w", eb.blk, err)
		}
	}
	return nil
}

func fileType(mode uint16) uint8 {
	switch mode & 0xF000 {
	case sIFREG:
		return 1
	case sIFDIR:
		return 2
	case sIFCHR:
		return 3
	case sIFBLK:
		return 4
	case sIFIFO:
		return 5
	case sIFSOCK:
		return 6
	case sIFLNK:
		return 7
	}
	return 0
}

// dirData serialises a linear directory into whole blocks.
func (w *Writer) dirData(ino int64, d *dir) []byte {
	bs := int(w.lay.bs)
	var out []byte
	pos, last := 0, -1 // next free byte, start of the block's last entry
	put := func(name string, target int64) {
		need := (8 + len(name) + 3) &^ 3
		if last < 0 || pos+need > len(out) {
			if last >= 0 {
				le.PutUint16(out[last+4:], uint16(len(out)-last))
			}
			pos = len(out)
			out = append(out, make([]byte, bs)...)
		}
		last = pos
		e := out[pos:]
		le.PutUint32(e[0:], uint32(target))
		le.PutUint16(e[4:], uint16(need))
		e[6] = uint8(len(name))
		e[7] = fileType(w.inode(target).mode)
		copy(e[8:], name)
		pos += need
	}
	put(".", ino)
	put("..", d.parent)
	for _, e := range d.ents {
		put(e.name, e.ino)
	}
	le.PutUint16(out[last+4:], uint16(len(out)-last))
	if ino == firstIno { // lost+found: at least 16 KiB and 2 blocks, like mke2fs
		for len(out) < 16384 || len(out) < 2*bs {
			empty := make([]byte, bs)
			le.PutUint16(empty[4:], uint16(bs))
			out = append(out, empty...)
		}
	}
	return out
}

// writeDirs allocates and writes every directory's blocks.
func (w *Writer) writeDirs() error {
	for ino := int64(1); ino <= int64(len(w.inodes)); ino++ {
		in := w.inodes[ino-1]
		if in == nil || in.dir == nil {
			continue
		}
		data := w.dirData(ino, in.dir)
		if err := w.writeData(ino, in, data); err != nil {
			return err
		}
		in.size = int64(len(data))
	}
	return nil
}

// writeData allocates blocks for data and writes it as in's contents.
func (w *Writer) writeData(ino int64, in *inode, data []byte) error {
	bs := w.lay.bs
	for logical := int64(0); logical*bs < int64(len(data)); {
		e, ok := w.alloc.alloc(int64(len(data))/bs - logical)
		if !ok {
			return fmt.Errorf("writing directory %q: %w", w.pathOf(ino), ErrNoSpace)
		}
		if err := w.writeBlocks(data[logical*bs:(logical+e.n)*bs], e.start); err != nil {
			return fmt.Errorf("writing directory %q: %w", w.pathOf(ino), err)
		}
		in.addRun(logical, e.start, e.n)
		logical += e.n
	}
	return nil
}

// writeMaps builds extent trees (ext4) or indirect maps (ext2).
func (w *Writer) writeMaps() error {
	for ino := int64(1); ino <= int64(len(w.inodes)); ino++ {
		in := w.inodes[ino-1]
		if in == nil || ino == journalIno {
			continue
		}
		t := in.mode & 0xF000
		mapped := t == sIFREG || t == sIFDIR || (t == sIFLNK && in.size >= 60)
		if !mapped {
			continue
		}
		var err error
		if w.opts.ext4() {
			err = w.buildExtents(ino, in)
		} else if len(in.runs) > 0 {
			err = w.buildIndirect(ino, in)
		}
		if err != nil {
			return err
		}
		if !w.opts.ext4() && (in.dataBlocks()+int64(in.meta))*(w.lay.bs/512) > 1<<32-1 {
			return fmt.Errorf("file %q: too many blocks for ext2", w.pathOf(ino))
		}
	}
	return nil
}

// writeInodeTables writes the inode table blocks that hold used inodes.
func (w *Writer) writeInodeTables() error {
	l := w.lay
	crtime := w.opts.Time.Unix()
	for g := range l.groups {
		first := g * l.ipg
		n := min(int64(len(w.inodes))-first, l.ipg)
		if n <= 0 {
			break
		}
		size := (n*inodeSize + l.bs - 1) / l.bs * l.bs
		b := make([]byte, size)
		for i := range n {
			if in := w.inodes[first+i]; in != nil {
				in.encode(b[i*inodeSize:], l.bs, crtime)
			}
		}
		if err := w.writeBlocks(b, l.itable[g]); err != nil {
			return fmt.Errorf("writing inode table of group %d: %w", g, err)
		}
	}
	return nil
}
