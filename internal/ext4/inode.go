package ext4

import (
	"encoding/binary"
	"time"
)

// Inode mode type bits and directory entry file types.
const (
	sIFIFO  = 0x1000
	sIFCHR  = 0x2000
	sIFDIR  = 0x4000
	sIFBLK  = 0x6000
	sIFREG  = 0x8000
	sIFLNK  = 0xA000
	sIFSOCK = 0xC000

	flagExtents = 0x80000
)

var le = binary.LittleEndian

// run maps n logical blocks starting at logical to physical blocks.
type run struct{ logical, phys, n int64 }

// inode is the in-memory state of one inode until Close writes it. One
// lives per entry for the whole build, so its fields are ordered to pack
// (144 bytes) and the rarely used attributes sit behind a pointer.
type inode struct {
	runs     []run // data blocks, in logical order
	x        *inodeXattrs
	dir      *dir
	sec      int64
	size     int64
	uid, gid uint32
	meta     uint32 // mapping and xattr blocks counted in i_blocks
	nsec     uint32
	links    uint32
	flags    uint32
	mode     uint16
	explicit bool // metadata came from an entry (directories only)
	block    [60]byte
}

// inodeXattrs holds an inode's extended attributes and where Close put
// them.
type inodeXattrs struct {
	xattrs  []xattr
	inXattr []byte // in-inode attribute area after the magic
	eaBlock int64
}

func (in *inode) setTime(t time.Time) {
	sec := t.Unix()
	sec = max(sec, -1<<31)
	sec = min(sec, 1<<34-1<<31-1)
	in.sec, in.nsec = sec, uint32(t.Nanosecond())
}

// addRun appends a mapping, merging it with the previous one when both are
// contiguous.
func (in *inode) addRun(logical, phys, n int64) {
	if k := len(in.runs); k > 0 {
		r := &in.runs[k-1]
		if r.logical+r.n == logical && r.phys+r.n == phys {
			r.n += n
			return
		}
	}
	in.runs = append(in.runs, run{logical, phys, n})
}

func (in *inode) dataBlocks() int64 {
	var n int64
	for _, r := range in.runs {
		n += r.n
	}
	return n
}

// timeExtra is the *_extra field: two epoch bits and the nanoseconds.
func timeExtra(sec int64, nsec uint32) uint32 {
	return uint32((sec-int64(int32(sec)))>>32)&3 | nsec<<2
}

// encode writes the 256-byte on-disk inode into b. crtime is the
// filesystem creation time.
func (in *inode) encode(b []byte, bs int64, crtime int64) {
	clear(b[:inodeSize])
	le.PutUint16(b[0x00:], in.mode)
	le.PutUint16(b[0x02:], uint16(in.uid))
	le.PutUint32(b[0x04:], uint32(in.size))
	for _, off := range []int{0x08, 0x0C, 0x10} {
		le.PutUint32(b[off:], uint32(in.sec))
	}
	le.PutUint16(b[0x18:], uint16(in.gid))
	le.PutUint16(b[0x1A:], uint16(in.links))
	sectors := (in.dataBlocks() + int64(in.meta)) * (bs / 512)
	le.PutUint32(b[0x1C:], uint32(sectors))
	le.PutUint32(b[0x20:], in.flags)
	copy(b[0x28:0x64], in.block[:])
	if in.x != nil {
		le.PutUint32(b[0x68:], uint32(in.x.eaBlock))
	}
	le.PutUint32(b[0x6C:], uint32(in.size>>32))
	le.PutUint16(b[0x74:], uint16(sectors>>32))
	le.PutUint16(b[0x78:], uint16(in.uid>>16))
	le.PutUint16(b[0x7A:], uint16(in.gid>>16))
	le.PutUint16(b[0x80:], extraIsize)
	x := timeExtra(in.sec, in.nsec)
	for _, off := range []int{0x84, 0x88, 0x8C} {
		le.PutUint32(b[off:], x)
	}
	le.PutUint32(b[0x90:], uint32(crtime))
	le.PutUint32(b[0x94:], timeExtra(crtime, 0))
	if in.x != nil && in.x.inXattr != nil {
		le.PutUint32(b[0xA0:], xattrMagic)
		copy(b[0xA4:inodeSize], in.x.inXattr)
	}
}

// encodeDev stores a device number in i_block the way the kernel does:
// the old 16-bit encoding when it fits, the new 32-bit one otherwise.
func encodeDev(b []byte, major, minor uint32) {
	if major < 256 && minor < 256 {
		le.PutUint32(b[0:], major<<8|minor)
		return
	}
	le.PutUint32(b[4:], minor&0xff|major<<8|(minor&^0xff)<<12)
}
