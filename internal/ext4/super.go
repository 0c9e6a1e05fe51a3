package ext4

import (
	"encoding/binary"
	"fmt"
	"math/bits"
)

// groupStats are the per-group counters of a group descriptor.
type groupStats struct {
	freeBlocks, freeInodes, dirs int64
}

// superblock encodes the 1024-byte superblock for the copy in group g.
func (w *Writer) superblock(g int64, freeBlocks, freeInodes int64) []byte {
	l, o := w.lay, w.opts
	b := make([]byte, 1024)
	t := uint32(o.Time.Unix())
	le.PutUint32(b[0x00:], uint32(l.inodes()))
	le.PutUint32(b[0x04:], uint32(l.blocks))
	le.PutUint32(b[0x0C:], uint32(freeBlocks))
	le.PutUint32(b[0x10:], uint32(freeInodes))
	le.PutUint32(b[0x14:], uint32(l.fdb))
	logBS := uint32(bits.TrailingZeros64(uint64(l.bs)) - 10)
	le.PutUint32(b[0x18:], logBS)
	le.PutUint32(b[0x1C:], logBS)
	le.PutUint32(b[0x20:], uint32(l.bpg))
	le.PutUint32(b[0x24:], uint32(l.bpg))
	le.PutUint32(b[0x28:], uint32(l.ipg))
	le.PutUint32(b[0x30:], t)      // s_wtime
	le.PutUint16(b[0x36:], 0xFFFF) // s_max_mnt_count: no forced checks
	le.PutUint16(b[0x38:], 0xEF53)
	le.PutUint16(b[0x3A:], 1) // clean
	le.PutUint16(b[0x3C:], 1) // errors=continue
	le.PutUint32(b[0x40:], t) // s_lastcheck
	le.PutUint32(b[0x4C:], 1) // dynamic revision
	le.PutUint32(b[0x54:], firstIno)
	le.PutUint16(b[0x58:], inodeSize)
	le.PutUint16(b[0x5A:], uint16(g))
	compat, incompat, ro := o.features()
	le.PutUint32(b[0x5C:], compat)
	le.PutUint32(b[0x60:], incompat)
	le.PutUint32(b[0x64:], ro)
	copy(b[0x68:], o.UUID[:])
	copy(b[0x78:0x88], o.Label)
	copy(b[0xEC:0xFC], o.HashSeed[:])
	b[0xFC] = 1                  // s_def_hash_version: half_md4
	le.PutUint32(b[0x100:], 0xC) // default mount options: user_xattr, acl
	le.PutUint32(b[0x108:], t)   // s_mkfs_time
	if o.Journal {
		le.PutUint32(b[0xE0:], journalIno)
		b[0xFD] = 1 // s_jnl_backup_type: EXT3_JNL_BACKUP_BLOCKS
		j := w.inode(journalIno)
		copy(b[0x10C:0x148], j.block[:])
		le.PutUint32(b[0x148:], uint32(j.size>>32))
		le.PutUint32(b[0x14C:], uint32(j.size))
	}
	le.PutUint16(b[0x15C:], extraIsize)
	le.PutUint16(b[0x15E:], extraIsize)
	le.PutUint32(b[0x160:], 1) // signed directory hash
	if l.flex {
		b[0x174] = uint8(max(4, bits.Len64(uint64(l.groups-1))))
		le.PutUint32(b[0x24C:], uint32(l.backup[0]))
		le.PutUint32(b[0x250:], uint32(l.backup[1]))
	}
	return b
}

// descriptors encodes the group descriptor table.
func (w *Writer) descriptors(st []groupStats) []byte {
	l := w.lay
	b := make([]byte, l.gdtBlocks*l.bs)
	for g := range l.groups {
		d := b[32*g:]
		le.PutUint32(d[0:], uint32(l.bbitmap[g]))
		le.PutUint32(d[4:], uint32(l.ibitmap[g]))
		le.PutUint32(d[8:], uint32(l.itable[g]))
		le.PutUint16(d[12:], uint16(st[g].freeBlocks))
		le.PutUint16(d[14:], uint16(st[g].freeInodes))
		le.PutUint16(d[16:], uint16(st[g].dirs))
	}
	return b
}

func setBits(b []byte, from, to int64) {
	for i := from; i < to; i++ {
		b[i>>3] |= 1 << (i & 7)
	}
}

func clearBits(b []byte, from, to int64) {
	for i := from; i < to; i++ {
		b[i>>3] &^= 1 << (i & 7)
	}
}

// writeGroupMeta writes bitmaps, descriptors and every superblock copy.
func (w *Writer) writeGroupMeta() error {
	l := w.lay
	st := make([]groupStats, l.groups)
	for _, ino := range w.dirs {
		st[(ino-1)/l.ipg].dirs++
	}
	free := w.alloc.free
	bm := make([]byte, l.bs)
	for g := range l.groups {
		gs, ge := l.groupStart(g), l.groupEnd(g)
		for i := range bm {
			bm[i] = 0xFF
		}
		for len(free) > 0 && free[0].start < ge {
			s, e := max(free[0].start, gs), min(free[0].end(), ge)
			clearBits(bm, s-gs, e-gs)
			st[g].freeBlocks += e - s
			if free[0].end() > ge {
				break
			}
			free = free[1:]
		}
		if err := w.writeBlocks(bm, l.bbitmap[g]); err != nil {
			return fmt.Errorf("writing block bitmap of group %d: %w", g, err)
		}
		clear(bm)
		used := min(max(w.next-1-g*l.ipg, 0), l.ipg)
		setBits(bm, 0, used)
		setBits(bm, l.ipg, 8*l.bs)
		st[g].freeInodes = l.ipg - used
		if err := w.writeBlocks(bm, l.ibitmap[g]); err != nil {
			return fmt.Errorf("writing inode bitmap of group %d: %w", g, err)
		}
	}
	var fb, fi int64
	for _, s := range st {
		fb += s.freeBlocks
		fi += s.freeInodes
	}
	gdt := w.descriptors(st)
	for g := range l.groups {
		if !l.hasSuper(g) {
			continue
		}
		sb, at := w.superblock(g, fb, fi), l.groupStart(g)*l.bs
		if g == 0 {
			at = 1024
		}
		if _, err := w.out.WriteAt(sb, at); err != nil {
			return fmt.Errorf("writing superblock of group %d: %w", g, err)
		}
		if err := w.writeBlocks(gdt, l.groupStart(g)+1); err != nil {
			return fmt.Errorf("writing group descriptors of group %d: %w", g, err)
		}
	}
	return nil
}

// journalSuper is an empty, clean jbd2 superblock (version 2).
func (w *Writer) journalSuper(blocks int64) []byte {
	b := make([]byte, w.lay.bs)
	be := binary.BigEndian
	be.PutUint32(b[0x0:], 0xC03B3998)
	be.PutUint32(b[0x4:], 4)
	be.PutUint32(b[0xC:], uint32(w.lay.bs))
	be.PutUint32(b[0x10:], uint32(blocks))
	be.PutUint32(b[0x14:], 1) // s_first
	be.PutUint32(b[0x18:], 1) // s_sequence
	copy(b[0x30:], w.opts.UUID[:])
	be.PutUint32(b[0x40:], 1) // s_nr_users
	return b
}
