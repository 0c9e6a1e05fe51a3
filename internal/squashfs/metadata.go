package squashfs

import (
	"encoding/binary"
	"fmt"
)

// metaSize is the uncompressed size of a metadata block.
const metaSize = 8192

// metaUncompressed marks a metadata block stored as is in its 16-bit
// length header.
const metaUncompressed = 0x8000

// metaWriter builds a metadata table (inode, directory, xattr, id,
// fragment tables): a sequence of blocks of 8 KiB uncompressed, each
// compressed on its own and prefixed by a 16-bit length. A position in
// the table is the offset of a block's header within the table plus an
// offset into the block's uncompressed bytes.
type metaWriter struct {
	c      compressor
	out    []byte   // finished blocks, headers included
	starts []uint32 // offset of each finished block in the table
	cur    []byte   // the block being filled
	tmp    []byte
	err    error
	// sink, if set, takes finished blocks whenever out holds sinkSize
	// bytes, so that a large table is not kept whole; flushed counts
	// the bytes it took.
	sink    func([]byte) error
	flushed int64
}

// sinkSize is how many bytes of finished blocks a metaWriter with a sink
// gathers before handing them on.
const sinkSize = 64 << 10

func newMetaWriter(c compressor) *metaWriter {
	return &metaWriter{c: c, cur: make([]byte, 0, metaSize)}
}

// pos returns where the next byte written will be.
func (m *metaWriter) pos() (block uint32, offset uint16) {
	return uint32(m.flushed + int64(len(m.out))), uint16(len(m.cur))
}

// ref returns pos as a squashfs reference (block << 16 | offset).
func (m *metaWriter) ref() uint64 {
	b, o := m.pos()
	return uint64(b)<<16 | uint64(o)
}

// size returns the number of bytes written so far, uncompressed.
func (m *metaWriter) size() int64 { return int64(len(m.starts))*metaSize + int64(len(m.cur)) }

func (m *metaWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		k := copy(m.cur[len(m.cur):metaSize], p)
		m.cur = m.cur[:len(m.cur)+k]
		p = p[k:]
		if len(m.cur) == metaSize {
			m.flush()
		}
	}
	return n, m.err
}

func (m *metaWriter) flush() {
	if len(m.cur) == 0 || m.err != nil {
		return
	}
	m.starts = append(m.starts, uint32(m.flushed+int64(len(m.out))))
	out, ok, err := m.c.compress(m.tmp, m.cur)
	if err != nil {
		m.err = fmt.Errorf("compressing metadata block: %w", err)
		return
	}
	m.tmp = out
	hdr := uint16(len(out))
	if !ok {
		out = m.cur
		hdr = uint16(len(out)) | metaUncompressed
	}
	m.out = binary.LittleEndian.AppendUint16(m.out, hdr)
	m.out = append(m.out, out...)
	m.cur = m.cur[:0]
	if m.sink != nil && len(m.out) >= sinkSize {
		m.drain()
	}
}

// drain hands out to the sink.
func (m *metaWriter) drain() {
	if m.err == nil && len(m.out) > 0 {
		m.err = m.sink(m.out)
		m.flushed += int64(len(m.out))
		m.out = m.out[:0]
	}
}

// finish flushes the last partial block to the sink and returns the
// table's size.
func (m *metaWriter) finish() (int64, error) {
	m.flush()
	m.drain()
	return m.flushed, m.err
}

// bytes flushes the last partial block and returns the whole table.
func (m *metaWriter) bytes() ([]byte, error) {
	m.flush()
	return m.out, m.err
}

// le is a little-endian encoder for inode and table records.
type le []byte

func (b le) u16(v uint16) le { return binary.LittleEndian.AppendUint16(b, v) }
func (b le) u32(v uint32) le { return binary.LittleEndian.AppendUint32(b, v) }
func (b le) u64(v uint64) le { return binary.LittleEndian.AppendUint64(b, v) }
func (b le) str(s string) le { return append(b, s...) }
