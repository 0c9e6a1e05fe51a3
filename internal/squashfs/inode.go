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
	last   uint32 // the number of the last inode written
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
func (b *builder) header(t, mode uint16, uid, gid, mtime, ino uint32) (le, error) {
	u, err := b.id(uid)
	if err != nil {
		return nil, err
	}
	g, err := b.id(gid)
	if err != nil {
		return nil, err
	}
	return le(nil).u16(t).u16(mode).u16(u).u16(g).u32(mtime).u32(ino), nil
}

// next returns the number of the inode to write next, which must be
// want when want is not zero (numbers given out by Writer.number).
func (b *builder) next(want uint32) (uint32, error) {
	b.last++
	if want != 0 && b.last != want {
		return 0, fmt.Errorf("inode %d written as number %d", want, b.last)
	}
	return b.last, nil
}

// writeInode appends the inode of r numbered ino, which links hardlinks
// point to, and returns its reference.
func (b *builder) writeInode(r *record, ino, links uint32) (uint64, error) {
	t := basicType(r.typ)
	ext := r.xattr != noXattr
	if r.typ == rootfs.TypeReg {
		ext = ext || links > 0 || r.sparse > 0 || r.size > 1<<32-1 || r.start > 1<<32-1
	}
	if ext {
		t += inoExt
	}
	rec, err := b.header(t, r.mode, r.uid, r.gid, r.mtime, ino)
	if err != nil {
		return 0, err
	}
	nlink := links + 1
	switch r.typ {
	case rootfs.TypeReg:
		if ext {
			rec = rec.u64(uint64(r.start)).u64(uint64(r.size)).u64(uint64(r.sparse)).u32(nlink).u32(r.fragIdx).u32(r.fragOff).u32(r.xattr)
		} else {
			rec = rec.u32(uint32(r.start)).u32(r.fragIdx).u32(r.fragOff).u32(uint32(r.size))
		}
	case rootfs.TypeSymlink:
		rec = rec.u32(nlink).u32(uint32(len(r.target)))
		rec = append(rec, r.target...)
	case rootfs.TypeChar, rootfs.TypeBlock:
		rec = rec.u32(nlink).u32(r.rdev)
	default:
		rec = rec.u32(nlink)
	}
	if ext && r.typ != rootfs.TypeReg {
		rec = rec.u32(r.xattr)
	}
	ref := b.inodes.ref()
	b.inodes.Write(rec)
	_, err = b.inodes.Write(r.blocks)
	return ref, err
}

// writeDirInode writes d's inode, whose listing is l, with nlink links
// and parent directory inode parent.
func (b *builder) writeDirInode(d *dirNode, l listing, nlink, parent uint32) error {
	size := l.size + 3 // "." and ".." are implicit
	ext := d.xattr != noXattr || len(l.index) > 0 || size > 0xFFFF
	t := uint16(inoDir)
	if ext {
		t += inoExt
	}
	rec, err := b.header(t, d.mode, d.uid, d.gid, d.mtime, d.ino)
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
