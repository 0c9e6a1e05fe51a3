package ext4

import (
	"cmp"
	"fmt"
	"slices"
)

// dent is one directory entry read back for Close.
type dent struct {
	name string
	ino  int64
	off  int64 // its record
	typ  uint8
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

// readDir reads directory ino's entries back in arrival order, with
// hardlinks resolved, and rejects names added twice.
func (w *Writer) readDir(ino int64) ([]dent, error) {
	var ents []dent
	for off := w.inode(ino).dir.last; off >= 0; {
		r, err := w.spill.record(off)
		if err != nil {
			return nil, err
		}
		e := dent{name: r.name, ino: r.ino, off: off, typ: r.typ}
		if r.ino == 0 {
			l := w.resolved[off]
			e.ino, e.typ = l.ino, l.typ
		}
		ents = append(ents, e)
		off = r.prev
	}
	slices.Reverse(ents)
	return ents, w.checkNames(ino, ents)
}

// checkNames reports the first name (in sorted order) that directory ino
// holds twice.
func (w *Writer) checkNames(ino int64, ents []dent) error {
	byName := make([]int, len(ents))
	for i := range byName {
		byName[i] = i
	}
	slices.SortFunc(byName, func(a, b int) int { return cmp.Compare(ents[a].name, ents[b].name) })
	d := w.inode(ino).dir
	for k := 1; k < len(byName); k++ {
		a, b := ents[byName[k-1]], ents[byName[k]]
		if a.name != b.name {
			continue
		}
		for _, e := range []dent{a, b} {
			if sub, ok := d.subdirs[e.name]; ok && e.ino == sub && w.inode(sub).dir.creator != "" {
				return fmt.Errorf("adding %q: parent %q is not a directory", w.inode(sub).dir.creator, w.childPath(ino, e.name))
			}
		}
		return fmt.Errorf("duplicate entry %q", w.childPath(ino, a.name))
	}
	return nil
}

// dirData serialises a linear directory into whole blocks.
func (w *Writer) dirData(ino int64, d *dir, ents []dent) []byte {
	bs := int(w.lay.bs)
	var out []byte
	pos, last := 0, -1 // next free byte, start of the block's last entry
	put := func(name string, target int64, typ uint8) {
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
		e[7] = typ
		copy(e[8:], name)
		pos += need
	}
	put(".", ino, 2)
	put("..", d.parent, 2)
	for _, e := range ents {
		put(e.name, e.ino, e.typ)
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
	for _, ino := range w.dirs {
		in := w.inode(ino)
		ents, err := w.readDir(ino)
		if err != nil {
			return err
		}
		data := w.dirData(ino, in.dir, ents)
		if err := w.writeData(ino, in, data); err != nil {
			return err
		}
		in.size = int64(len(data))
	}
	return nil
}

// writeData allocates blocks for data and writes it as directory ino's
// contents.
func (w *Writer) writeData(ino int64, in *inode, data []byte) error {
	bs := w.lay.bs
	for logical := int64(0); logical*bs < int64(len(data)); {
		e, ok := w.alloc.alloc(int64(len(data))/bs - logical)
		if !ok {
			return fmt.Errorf("writing directory %q: %w", w.dirPath(ino), ErrNoSpace)
		}
		if err := w.writeBlocks(data[logical*bs:(logical+e.n)*bs], e.start); err != nil {
			return fmt.Errorf("writing directory %q: %w", w.dirPath(ino), err)
		}
		in.addRun(logical, e.start, e.n)
		logical += e.n
	}
	return nil
}

// writeDirMaps builds the directories' extent trees or indirect maps.
func (w *Writer) writeDirMaps() error {
	for _, ino := range w.dirs {
		if err := w.buildMap(w.inode(ino), w.dirPath(ino)); err != nil {
			return err
		}
	}
	return nil
}
