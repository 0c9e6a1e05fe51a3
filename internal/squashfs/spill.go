package squashfs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/elemental-suite/elemental/internal/rootfs"
)

// Every entry but a directory is kept in a spill file until Close, as a
// record appended in the order entries arrive, so the heap holds only a
// 4-byte child per entry (issue 7: peak RSS flat in the image size).
// Records are padded to recAlign bytes so that a child can address 16 GiB
// of them in 31 bits.
//
// A record is, little-endian: u32 padded length, u8 type, u8 0, u16 mode,
// u32 uid, gid, mtime, xattr id, u16 name length, u16 0, the name, and by
// type: a regular file's u64 size, start, sparse bytes, u32 fragment
// index and offset and one u32 size word per full block; a symlink's u32
// target length and target; a device's u32 number; nothing for the rest
// (a hardlink's target stays in memory, see Writer.hardlinks).
const (
	recAlign  = 8
	recHeader = 28
	fileFixed = 32 // size, start, sparse, fragment index and offset
	// batchSize is how many bytes of records are handed to the pipeline
	// at a time: a file's block sizes are known only once the pipeline
	// has written its blocks, so records reach the spill file through it.
	batchSize = 64 << 10
	// readWindow is how much of the spill file a read caches.
	readWindow = 64 << 10
	maxSpill   = int64(dirBit) * recAlign
	maxRecord  = 1<<31 - 1 // its length is a u32
)

// child is a directory's entry in the tree being built: with dirBit set,
// the index of a directory in Writer.dirs, otherwise the spill-file
// offset of the entry's record divided by recAlign.
type child uint32

const dirBit child = 1 << 31

func (c child) isDir() bool   { return c&dirBit != 0 }
func (c child) dir() uint32   { return uint32(c &^ dirBit) }
func (c child) off() int64    { return int64(c) * recAlign }
func dirChild(i uint32) child { return child(i) | dirBit }

// recLen returns the padded length of e's record, whose regular file has
// nblocks full blocks.
func recLen(e *rootfs.Entry, nblocks int64) int64 {
	n := int64(recHeader + len(e.Name()))
	switch e.Type {
	case rootfs.TypeReg:
		n += fileFixed + 4*nblocks
	case rootfs.TypeSymlink:
		n += 4 + int64(len(e.Linkname))
	case rootfs.TypeChar, rootfs.TypeBlock:
		n += 4
	}
	return (n + recAlign - 1) / recAlign * recAlign
}

// appendRecord encodes e's record, with the file fields zero, to b.
func appendRecord(b le, e *rootfs.Entry, xattr, rdev uint32, n int64) le {
	start := len(b)
	b = b.u32(uint32(n)).u16(uint16(e.Type)).u16(uint16(e.Mode & rootfs.ModePerm))
	b = b.u32(e.UID).u32(e.GID).u32(unixTime(e.ModTime)).u32(xattr)
	b = b.u16(uint16(len(e.Name()))).u16(0).str(e.Name())
	switch e.Type {
	case rootfs.TypeReg:
		b = b.u64(uint64(e.Size))
	case rootfs.TypeSymlink:
		b = b.u32(uint32(len(e.Linkname))).str(e.Linkname)
	case rootfs.TypeChar, rootfs.TypeBlock:
		b = b.u32(rdev)
	}
	return append(b, make([]byte, n-int64(len(b)-start))...)
}

// record is a decoded spill record; its slices point into the reader's
// buffer or an arena.
type record struct {
	typ                    rootfs.Type
	mode                   uint16
	uid, gid, mtime, xattr uint32
	name, target           []byte
	rdev                   uint32
	size, start, sparse    int64
	fragIdx, fragOff       uint32
	blocks                 []byte // u32 size words
}

func nameLen(b []byte) int { return int(binary.LittleEndian.Uint16(b[24:])) }

// decodeRecord decodes b; bs is the image's block size.
func decodeRecord(b []byte, bs int) record {
	u16 := func(i int) uint16 { return binary.LittleEndian.Uint16(b[i:]) }
	u32 := func(i int) uint32 { return binary.LittleEndian.Uint32(b[i:]) }
	u64 := func(i int) int64 { return int64(binary.LittleEndian.Uint64(b[i:])) }
	r := record{typ: rootfs.Type(b[4]), mode: u16(6), uid: u32(8), gid: u32(12), mtime: u32(16), xattr: u32(20)}
	p := recHeader + nameLen(b)
	r.name = b[recHeader:p]
	switch r.typ {
	case rootfs.TypeReg:
		r.size, r.start, r.sparse = u64(p), u64(p+8), u64(p+16)
		r.fragIdx, r.fragOff = u32(p+24), u32(p+28)
		p += fileFixed
		r.blocks = b[p : p+4*int(r.size/int64(bs))]
	case rootfs.TypeSymlink:
		n := int(u32(p))
		r.target = b[p+4 : p+4+n]
	case rootfs.TypeChar, rootfs.TypeBlock:
		r.rdev = u32(p)
	}
	return r
}

// spill is the temporary file of records.
type spill struct {
	f    *os.File
	path string // still to remove at close, if removing at once failed
	size int64  // bytes written; owned by the pipeline's writer goroutine

	win      []byte // the cached window, for reads after the pipeline
	winStart int64
}

func newSpill(dir string) (*spill, error) {
	f, err := os.CreateTemp(dir, "squashfs-spill-*")
	if err != nil {
		return nil, fmt.Errorf("creating squashfs spill file: %w", err)
	}
	s := &spill{f: f}
	// Unlinked at once, the file cannot outlive the process.
	if os.Remove(f.Name()) != nil {
		s.path = f.Name()
	}
	return s, nil
}

// close closes and removes the file.
func (s *spill) close() error {
	err := s.f.Close()
	if s.path != "" {
		err = errors.Join(err, os.Remove(s.path))
	}
	if err != nil {
		return fmt.Errorf("removing squashfs spill file: %w", err)
	}
	return nil
}

// append writes b at the end of the file.
func (s *spill) append(b []byte) error {
	if _, err := s.f.WriteAt(b, s.size); err != nil {
		return fmt.Errorf("writing squashfs spill file: %w", err)
	}
	s.size += int64(len(b))
	return nil
}

// at returns the n bytes at off, valid until the next call. Reads are
// served from a window of the file.
func (s *spill) at(off int64, n int) ([]byte, error) {
	if off >= s.winStart && off+int64(n) <= s.winStart+int64(len(s.win)) {
		return s.win[off-s.winStart:][:n], nil
	}
	if off < 0 || off+int64(n) > s.size {
		return nil, fmt.Errorf("reading squashfs spill file: %d bytes at %d past its end %d", n, off, s.size)
	}
	size := max(n, readWindow)
	if cap(s.win) < size {
		s.win = make([]byte, size)
	}
	s.win = s.win[:min(int64(size), s.size-off)]
	s.winStart = off
	if _, err := s.f.ReadAt(s.win, off); err != nil && !errors.Is(err, io.EOF) {
		s.win = s.win[:0]
		return nil, fmt.Errorf("reading squashfs spill file: %w", err)
	}
	b := s.win[:n]
	if size > readWindow {
		s.win = nil // do not keep a big record's buffer
	}
	return b, nil
}

// record returns the whole record at off.
func (s *spill) record(off int64) ([]byte, error) {
	h, err := s.at(off, 4)
	if err != nil {
		return nil, err
	}
	return s.at(off, int(binary.LittleEndian.Uint32(h)))
}

// name returns the name and type in the record at off.
func (s *spill) name(off int64) ([]byte, rootfs.Type, error) {
	h, err := s.at(off, recHeader)
	if err != nil {
		return nil, 0, err
	}
	t := rootfs.Type(h[4])
	b, err := s.at(off, recHeader+nameLen(h))
	if err != nil {
		return nil, 0, err
	}
	return b[recHeader:], t, nil
}

// batch gathers records on the caller's goroutine until they are handed
// to the pipeline, which writes them to the spill file once every block
// submitted before them is placed.
type batch struct {
	buf     le
	base    int64 // spill offset of buf[0]
	patches []patch
}

// patch fills in a file's start and block sizes at buf[pos:] (its start
// field) before the batch is written.
type patch struct {
	pos int
	f   *fileBlocks
}

// fileBlocks receives a file's block placements on the pipeline's writer
// goroutine.
type fileBlocks struct {
	start int64
	sizes []uint32
}

// apply fills in the patches; it runs on the pipeline's writer goroutine.
func (b *batch) apply() {
	for _, p := range b.patches {
		binary.LittleEndian.PutUint64(b.buf[p.pos:], uint64(p.f.start))
		for i, s := range p.f.sizes {
			binary.LittleEndian.PutUint32(b.buf[p.pos+24+4*i:], s)
		}
	}
}

// copyTo writes the file from off to its end at o.
func (s *spill) copyTo(o *out, off int64) error {
	buf := make([]byte, readWindow)
	for off < s.size && o.err == nil {
		n := int(min(int64(len(buf)), s.size-off))
		if _, err := s.f.ReadAt(buf[:n], off); err != nil {
			return fmt.Errorf("reading squashfs spill file: %w", err)
		}
		o.write(buf[:n])
		off += int64(n)
	}
	return o.err
}
