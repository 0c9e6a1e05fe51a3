package squashfs

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/elemental-suite/elemental/internal/rootfs"
)

// number sorts every directory's children by name and numbers the inodes
// in the order Close writes them: each directory's entries (recursively)
// before the directory itself, a hardlinked inode where it is first met,
// the root last. Only directories and hardlinked inodes keep their number
// (the others are numbered again as they are written, in the same
// order); the root's number is the inode count.
func (w *Writer) number(l *links) error {
	var n uint32
	var walk func(d uint32) error
	walk = func(d uint32) error {
		if err := w.sortChildren(d); err != nil {
			return err
		}
		for _, c := range w.dirs[d].children {
			if c.isDir() {
				if err := walk(c.dir()); err != nil {
					return err
				}
				continue
			}
			if t, ok := l.to[c]; ok {
				c = t
			}
			if s := l.shared[c]; s != nil {
				if s.ino != 0 {
					continue
				}
				n++
				s.ino = n
				continue
			}
			n++
		}
		n++
		w.dirs[d].ino = n
		return nil
	}
	return walk(0)
}

// sortKey is a child and the span of its name in an arena.
type sortKey struct {
	c          child
	start, end uint32
}

// sortChildren sorts d's children by name, reading the names of those
// that are not directories back from the spill file, and reports two
// entries of the same name.
func (w *Writer) sortChildren(d uint32) error {
	kids := w.dirs[d].children
	keys := make([]sortKey, len(kids))
	var arena []byte
	for i, c := range kids {
		start := len(arena)
		if c.isDir() {
			arena = append(arena, w.dirs[c.dir()].name...)
		} else {
			name, _, err := w.spill.name(c.off())
			if err != nil {
				return err
			}
			arena = append(arena, name...)
		}
		keys[i] = sortKey{c: c, start: uint32(start), end: uint32(len(arena))}
	}
	name := func(k sortKey) []byte { return arena[k.start:k.end] }
	slices.SortFunc(keys, func(a, b sortKey) int { return bytes.Compare(name(a), name(b)) })
	for i, k := range keys {
		kids[i] = k.c
		if i > 0 && bytes.Equal(name(keys[i-1]), name(k)) {
			return w.duplicate(d, keys[i-1].c, k.c, name(k))
		}
	}
	return nil
}

// duplicate describes two entries a and b of directory d named name.
func (w *Writer) duplicate(d uint32, a, b child, name []byte) error {
	p := w.joinPath(d, name)
	if b.isDir() {
		a, b = b, a
	}
	if a.isDir() && !b.isDir() && !w.dirs[a.dir()].explicit {
		// Something was put inside a file: dir made the directory.
		_, t, err := w.spill.name(b.off())
		if err != nil {
			return err
		}
		return fmt.Errorf("parent %q is a %v, not a directory", p, rootfs.Type(t))
	}
	return fmt.Errorf("duplicate entry %q", p)
}

// gatherMax is the largest record gather copies; bigger ones (files of
// more than a thousand blocks) are read again when their inode is
// written.
const gatherMax = 4 << 10

// writeDir writes the inodes of d's entries (recursively, in the order
// number gave them), then d's listing and inode.
func (w *Writer) writeDir(b *builder, l *links, d uint32) error {
	kids := w.dirs[d].children
	recs, at, err := w.gather(kids)
	if err != nil {
		return err
	}
	ents := make([]dirEnt, len(kids))
	var names []byte
	nlink := uint32(2)
	for i, c := range kids {
		var e dirEnt
		if c.isDir() {
			if err := w.writeDir(b, l, c.dir()); err != nil {
				return err
			}
			cd := &w.dirs[c.dir()]
			names = append(names, cd.name...)
			e = dirEnt{ref: cd.ref, ino: cd.ino, typ: inoDir}
			nlink++
		} else {
			var raw []byte
			if at[i] >= 0 {
				raw = recs[at[i]:]
			} else if raw, err = w.spill.record(c.off()); err != nil {
				return err
			}
			r := decodeRecord(raw, w.opts.BlockSize)
			names = append(names, r.name...)
			if e, err = w.entryInode(b, l, c, &r); err != nil {
				return err
			}
		}
		e.end = uint32(len(names))
		ents[i] = e
	}
	lst, err := b.listing(ents, names)
	if err != nil {
		return err
	}
	dd := &w.dirs[d]
	if _, err := b.next(dd.ino); err != nil {
		return err
	}
	parent := b.count + 1 // the root's parent, as mksquashfs writes it
	if d != 0 {
		parent = w.dirs[dd.parent].ino
	}
	return b.writeDirInode(dd, lst, nlink, parent)
}

// gather copies the records of kids that are not directories, reading
// them in the order of the spill file, and returns them with where each
// kid's record starts (-1 for a directory or a record left to read).
func (w *Writer) gather(kids []child) (recs []byte, at []int, err error) {
	at = make([]int, len(kids))
	order := make([]int, 0, len(kids))
	for i, c := range kids {
		at[i] = -1
		if !c.isDir() {
			order = append(order, i)
		}
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(kids[a], kids[b]) })
	for _, i := range order {
		h, err := w.spill.at(kids[i].off(), 4)
		if err != nil {
			return nil, nil, err
		}
		n := int(binary.LittleEndian.Uint32(h))
		if n > gatherMax {
			continue
		}
		raw, err := w.spill.at(kids[i].off(), n)
		if err != nil {
			return nil, nil, err
		}
		at[i] = len(recs)
		recs = append(recs, raw...)
	}
	return recs, at, nil
}

// entryInode writes the inode of c, whose record is r, unless it is a
// hardlink or hardlinked inode already written, and returns its entry.
func (w *Writer) entryInode(b *builder, l *links, c child, r *record) (dirEnt, error) {
	if t, ok := l.to[c]; ok {
		if s := l.shared[t]; s.written {
			return dirEnt{ref: s.ref, ino: s.ino, typ: s.typ}, nil
		}
		raw, err := w.spill.record(t.off())
		if err != nil {
			return dirEnt{}, err
		}
		tr := decodeRecord(raw, w.opts.BlockSize)
		c, r = t, &tr
	}
	s := l.shared[c]
	if s == nil {
		ino, _ := b.next(0)
		ref, err := b.writeInode(r, ino, 0)
		return dirEnt{ref: ref, ino: ino, typ: basicType(r.typ)}, err
	}
	if !s.written {
		if _, err := b.next(s.ino); err != nil {
			return dirEnt{}, err
		}
		ref, err := b.writeInode(r, s.ino, s.nlink)
		if err != nil {
			return dirEnt{}, err
		}
		s.ref, s.typ, s.written = ref, basicType(r.typ), true
	}
	return dirEnt{ref: s.ref, ino: s.ino, typ: s.typ}, nil
}
