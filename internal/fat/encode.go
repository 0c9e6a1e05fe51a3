package fat

import (
	"encoding/binary"
	"time"
)

// Directory entry attributes.
const (
	attrVolumeID  = 0x08
	attrDirectory = 0x10
	attrArchive   = 0x20
	attrLongName  = 0x0F
)

var (
	epoch    = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)
	lastTime = time.Date(2107, 12, 31, 23, 59, 58, 0, time.UTC)
)

// dosTime encodes t (taken as UTC, clamped to FAT's 1980–2107 range) as
// FAT date and time words and the tenths-of-a-second byte of creation
// times.
func dosTime(t time.Time) (date, tm uint16, tenths byte) {
	t = t.UTC()
	if t.Before(epoch) {
		t = epoch
	}
	if t.After(lastTime) {
		t = lastTime
	}
	date = uint16(t.Year()-1980)<<9 | uint16(t.Month())<<5 | uint16(t.Day())
	tm = uint16(t.Hour())<<11 | uint16(t.Minute())<<5 | uint16(t.Second()/2)
	tenths = byte(t.Second()%2*100 + t.Nanosecond()/10_000_000)
	return date, tm, tenths
}

// shortEntry encodes a short directory entry.
func shortEntry(name shortName, attr byte, cluster uint32, size uint32, t time.Time) [dirEntSize]byte {
	var d [dirEntSize]byte
	le := binary.LittleEndian
	copy(d[0:11], name[:])
	d[11] = attr
	date, tm, tenths := dosTime(t)
	d[13] = tenths
	le.PutUint16(d[14:], tm)   // creation time
	le.PutUint16(d[16:], date) // creation date
	le.PutUint16(d[18:], date) // last access date
	le.PutUint16(d[20:], uint16(cluster>>16))
	le.PutUint16(d[22:], tm) // write time
	le.PutUint16(d[24:], date)
	le.PutUint16(d[26:], uint16(cluster))
	le.PutUint32(d[28:], size)
	return d
}

// bootSector encodes the boot sector (BPB and extended BPB) for g.
func bootSector(g geometry, opts *Options, label shortLabel) []byte {
	b := make([]byte, sectorSize)
	le := binary.LittleEndian
	jump := byte(0x3C)
	if g.fatType == 32 {
		jump = 0x58
	}
	b[0], b[1], b[2] = 0xEB, jump, 0x90
	// Boot code at the jump target: "jmp $", so a firmware that tries to
	// boot the volume stops instead of running zeros.
	b[2+int(jump)], b[3+int(jump)] = 0xEB, 0xFE
	copy(b[3:11], "MSWIN4.1")
	le.PutUint16(b[11:], sectorSize)
	b[13] = byte(g.secPerClus)
	le.PutUint16(b[14:], uint16(g.reserved))
	b[16] = numFATs
	if g.fatType != 32 {
		le.PutUint16(b[17:], rootEntries)
		le.PutUint16(b[22:], uint16(g.fatSectors))
	}
	if g.totalSectors < 0x10000 && g.fatType != 32 {
		le.PutUint16(b[19:], uint16(g.totalSectors))
	} else {
		le.PutUint32(b[32:], uint32(g.totalSectors))
	}
	b[21] = 0xF8 // fixed disk
	le.PutUint16(b[24:], 63)
	le.PutUint16(b[26:], 255)
	le.PutUint32(b[28:], opts.HiddenSectors)
	ext := b[36:]
	fsType := "FAT12   "
	if g.fatType == 16 {
		fsType = "FAT16   "
	}
	if g.fatType == 32 {
		le.PutUint32(b[36:], uint32(g.fatSectors))
		le.PutUint32(b[44:], fat32RootClus)
		le.PutUint16(b[48:], 1) // FSInfo sector
		le.PutUint16(b[50:], 6) // backup boot sector
		ext = b[64:]
		fsType = "FAT32   "
	}
	ext[0] = 0x80 // drive number
	ext[2] = 0x29 // extended boot signature
	le.PutUint32(ext[3:], opts.VolumeID)
	copy(ext[7:18], label[:])
	copy(ext[18:26], fsType)
	b[510], b[511] = 0x55, 0xAA
	return b
}

// fsInfo encodes the FAT32 FSInfo sector.
func fsInfo(free, nextFree uint32) []byte {
	b := make([]byte, sectorSize)
	le := binary.LittleEndian
	le.PutUint32(b[0:], 0x41615252)
	le.PutUint32(b[484:], 0x61417272)
	le.PutUint32(b[488:], free)
	le.PutUint32(b[492:], nextFree)
	le.PutUint32(b[508:], 0xAA550000)
	return b
}

// encodeFAT packs the allocation table, entries 0 and 1 included, into
// g.fatSectors sectors.
func encodeFAT(g geometry, fat []uint32) []byte {
	b := make([]byte, g.fatSectors*sectorSize)
	le := binary.LittleEndian
	for i, v := range fat {
		switch g.fatType {
		case 12:
			off := i * 3 / 2
			if i%2 == 0 {
				b[off] = byte(v)
				b[off+1] = b[off+1]&0xF0 | byte(v>>8)&0x0F
			} else {
				b[off] = b[off]&0x0F | byte(v<<4)
				b[off+1] = byte(v >> 4)
			}
		case 16:
			le.PutUint16(b[2*i:], uint16(v))
		default:
			le.PutUint32(b[4*i:], v&0x0FFFFFFF)
		}
	}
	return b
}

// endOfChain returns the end-of-chain marker for the FAT type.
func endOfChain(fatType int) uint32 {
	switch fatType {
	case 12:
		return 0xFFF
	case 16:
		return 0xFFFF
	}
	return 0x0FFFFFFF
}
