package squashfs

import (
	"fmt"

	"github.com/elemental-suite/elemental/internal/rootfs"
)

// Basic inode types; the extended variant of each is basic + 7.
const (
	inoDir     = 1
	inoFile    = 2
	inoSymlink = 3
	inoBlock   = 4
	inoChar    = 5
	inoFIFO    = 6
	inoSocket  = 7
	inoExt     = 7
)

func basicType(t rootfs.Type) uint16 {
	switch t {
	case rootfs.TypeDir:
		return inoDir
	case rootfs.TypeReg:
		return inoFile
	case rootfs.TypeSymlink:
		return inoSymlink
	case rootfs.TypeBlock:
		return inoBlock
	case rootfs.TypeChar:
		return inoChar
	case rootfs.TypeFIFO:
		return inoFIFO
	}
	return inoSocket
}

// builder writes the inode and directory tables in Close.
type builder struct {
	inodes *metaWriter
	dirs   *metaWriter
	ids    []uint32
	idIdx  map[uint32]uint16
	count  uint32 // inodes in the image
}

func (b *builder) id(v uint32) (uint16, error) {
	if i, ok := b.idIdx[v]; ok {
		return i, nil
	}
	if len(b.ids) == 1<<16 {
		return 0, fmt.Errorf("more than 65536 distinct uids and gids")
	}
	i := uint16(len(b.ids))
	b.ids = append(b.ids, v)
	b.idIdx[v] = i
	return i, nil
}

// header encodes the common inode header with type t.
func (b *builder) header(n *node, t uint16) (le, error) {
	uid, err := b.id(n.uid)
	if err != nil {
		return nil, err
	}
	gid, err := b.id(n.gid)
	if err != nil {
		return nil, err
	}
	return le(nil).u16(t).u16(n.mode).u16(uid).u16(gid).u32(n.mtime).u32(n.ino), nil
}

// writeInode appends n's inode (and, for a directory, its listing) to
// the tables and records n.ref.
func (b *builder) writeInode(n *node) error {
	if n.typ() == rootfs.TypeDir {
		return b.writeDir(n)
	}
	t := basicType(n.typ())
	ext := n.xattr != noXattr
	if n.typ() == rootfs.TypeReg {
		f := n.file
		ext = ext || n.nlink > 0 || f.sparse > 0 || f.size > 1<<32-1 || f.start > 1<<32-1
	}
	if ext {
		t += inoExt
	}
	rec, err := b.header(n, t)
	if err != nil {
		return err
	}
	nlink := n.nlink + 1
	switch n.typ() {
	case rootfs.TypeReg:
		f := n.file
		if ext {
			rec = rec.u64(uint64(f.start)).u64(uint64(f.size)).u64(uint64(f.sparse)).u32(nlink).u32(f.fragIdx).u32(f.fragOff).u32(n.xattr)
		} else {
			rec = rec.u32(uint32(f.start)).u32(f.fragIdx).u32(f.fragOff).u32(uint32(f.size))
		}
		for _, s := range f.blocks {
			rec = rec.u32(s)
		}
	case rootfs.TypeSymlink:
		rec = rec.u32(nlink).u32(uint32(len(n.target))).str(n.target)
	case rootfs.TypeChar, rootfs.TypeBlock:
		rec = rec.u32(nlink).u32(n.rdev)
	default:
		rec = rec.u32(nlink)
	}
	if ext && n.typ() != rootfs.TypeReg {
		rec = rec.u32(n.xattr)
	}
	n.ref = b.inodes.ref()
	_, err = b.inodes.Write(rec)
	return err
}

// writeDir writes d's listing, then its inode.
func (b *builder) writeDir(d *node) error {
	l, err := b.listing(d)
	if err != nil {
		return err
	}
	nlink := uint32(2)
	for _, c := range d.dir.children {
		if c.typ() == rootfs.TypeDir {
			nlink++
		}
	}
	parent := b.count + 1 // the root's parent, as mksquashfs writes it
	if d.dir.parent != nil {
		parent = d.dir.parent.ino
	}
	size := l.size + 3 // "." and ".." are implicit
	ext := d.xattr != noXattr || len(l.index) > 0 || size > 0xFFFF
	t := uint16(inoDir)
	if ext {
		t += inoExt
	}
	rec, err := b.header(d, t)
	if err != nil {
		return err
	}
	if ext {
		rec = rec.u32(nlink).u32(size).u32(l.block).u32(parent).u16(uint16(len(l.index))).u16(l.offset).u32(d.xattr)
		for _, ix := range l.index {
			rec = rec.u32(ix.index).u32(ix.block).u32(uint32(len(ix.name) - 1)).str(ix.name)
		}
	} else {
		rec = rec.u32(l.block).u32(nlink).u16(uint16(size)).u16(l.offset).u32(parent)
	}
	d.ref = b.inodes.ref()
	_, err = b.inodes.Write(rec)
	return err
}
