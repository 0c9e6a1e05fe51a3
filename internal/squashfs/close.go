package squashfs

import (
	"cmp"
	"fmt"
	"io"
	"math/bits"
)

const (
	sqMagic        = 0x73717368
	noTable        = ^uint64(0)
	imageAlignment = 4096
)

// Close waits for the data, writes the inode, directory, fragment, id and
// xattr tables after it, then the superblock, and pads the image with
// zeros to a multiple of 4 KiB. It returns that padded size. It removes
// the spill file, also after an error.
func (w *Writer) Close() (size int64, err error) {
	if w.closed {
		return 0, ErrClosed
	}
	w.closed = true
	defer func() {
		if cerr := w.spill.close(); cerr != nil && err == nil {
			size, err = 0, cerr
		}
	}()
	if w.open != nil {
		err = fmt.Errorf("closing squashfs image: file %q is still open", w.open.path)
	}
	if err == nil && w.failure == nil {
		err = cmp.Or(w.flushFragment(), w.flushBatch())
	}
	dataEnd, perr := w.pipe.finish()
	if err = cmp.Or(w.failure, err, perr); err != nil {
		return 0, err
	}
	l, err := w.resolveLinks()
	if err != nil {
		return 0, err
	}
	// Nothing looks a path up after this (issue 7: peak RSS).
	w.dirIdx, w.hardlinks = nil, nil
	if err := w.number(&l); err != nil {
		return 0, err
	}
	// The inode table goes straight into the image after the data; the
	// directory table, which follows it, waits in the spill file.
	o := &out{w: w.w, off: dataEnd}
	b := &builder{
		inodes: newMetaWriter(w.meta), dirs: newMetaWriter(w.meta),
		idIdx: map[uint32]uint16{}, count: w.dirs[0].ino,
	}
	b.inodes.sink = func(p []byte) error { o.write(p); return o.err }
	dirStart := w.spill.size
	b.dirs.sink = w.spill.append
	if err := w.writeDir(b, &l, 0); err != nil {
		return 0, fmt.Errorf("writing inode table: %w", err)
	}
	if _, err := b.inodes.finish(); err != nil {
		return 0, fmt.Errorf("writing inode table: %w", err)
	}
	if _, err := b.dirs.finish(); err != nil {
		return 0, fmt.Errorf("writing directory table: %w", err)
	}
	sb := superblock{inodes: b.count, root: w.dirs[0].ref, ids: uint16(len(b.ids)), frags: uint32(len(w.frags))}
	sb.inodeTable = dataEnd
	sb.dirTable = o.off
	if err := w.spill.copyTo(o, dirStart); err != nil {
		return 0, fmt.Errorf("writing directory table: %w", err)
	}
	return w.writeTables(b, o, sb)
}

// out writes consecutive byte ranges at increasing offsets.
type out struct {
	w   io.WriterAt
	off int64
	err error
}

func (o *out) write(p []byte) int64 {
	start := o.off
	if o.err == nil && len(p) > 0 {
		if _, err := o.w.WriteAt(p, o.off); err != nil {
			o.err = fmt.Errorf("writing squashfs tables at offset %d: %w", o.off, err)
		}
	}
	o.off += int64(len(p))
	return start
}

// table writes records as metadata blocks followed by the index of their
// locations and returns where the index starts.
func (w *Writer) table(o *out, records []byte) (int64, error) {
	m := newMetaWriter(w.meta)
	m.Write(records)
	data, err := m.bytes()
	if err != nil {
		return 0, err
	}
	base := o.write(data)
	var index le
	for _, s := range m.starts {
		index = index.u64(uint64(base) + uint64(s))
	}
	return o.write(index), nil
}

// writeTables writes the fragment, id and xattr tables at o, then the
// superblock sb and the padding.
func (w *Writer) writeTables(b *builder, o *out, sb superblock) (size int64, err error) {
	var frags le
	for _, f := range w.frags {
		frags = frags.u64(f[0]).u32(uint32(f[1])).u32(0)
	}
	if sb.fragTable, err = w.table(o, frags); err != nil {
		return 0, fmt.Errorf("writing fragment table: %w", err)
	}
	var ids le
	for _, id := range b.ids {
		ids = ids.u32(id)
	}
	if sb.idTable, err = w.table(o, ids); err != nil {
		return 0, fmt.Errorf("writing id table: %w", err)
	}
	if sb.xattrTable, err = w.writeXattrs(o); err != nil {
		return 0, fmt.Errorf("writing xattr table: %w", err)
	}
	sb.bytesUsed = o.off
	o.off = 0
	o.write(sb.encode(w.opts))
	size = (sb.bytesUsed + imageAlignment - 1) / imageAlignment * imageAlignment
	o.off = sb.bytesUsed
	o.write(make([]byte, size-sb.bytesUsed))
	return size, o.err
}

// writeXattrs writes the key/value blocks, the id table blocks and the
// id table header with its index. It returns the header's offset, or
// noTable when no entry has xattrs.
func (w *Writer) writeXattrs(o *out) (int64, error) {
	t := &w.xattrs
	if len(t.ids) == 0 {
		return -1, nil // stored as noTable
	}
	kv, err := t.kv.bytes()
	if err != nil {
		return 0, err
	}
	kvStart := o.write(kv)
	m := newMetaWriter(w.meta)
	for _, id := range t.ids {
		m.Write(le(nil).u64(id.ref).u32(id.count).u32(id.size))
	}
	data, err := m.bytes()
	if err != nil {
		return 0, err
	}
	base := o.write(data)
	hdr := le(nil).u64(uint64(kvStart)).u32(uint32(len(t.ids))).u32(0)
	for _, s := range m.starts {
		hdr = hdr.u64(uint64(base) + uint64(s))
	}
	return o.write(hdr), nil
}

// superblock holds the fields Close fills in.
type superblock struct {
	inodes, frags uint32
	ids           uint16
	root          uint64
	bytesUsed     int64
	inodeTable    int64
	dirTable      int64
	fragTable     int64
	idTable       int64
	xattrTable    int64
}

func (s superblock) encode(opts Options) []byte {
	return le(nil).u32(sqMagic).u32(s.inodes).u32(unixTime(opts.Time)).
		u32(uint32(opts.BlockSize)).u32(s.frags).
		u16(opts.Compression.id()).u16(uint16(bits.TrailingZeros(uint(opts.BlockSize)))).
		u16(0). // flags: compressed everything, fragments, no export table
		u16(s.ids).u16(4).u16(0).
		u64(s.root).u64(uint64(s.bytesUsed)).u64(uint64(s.idTable)).u64(uint64(s.xattrTable)).
		u64(uint64(s.inodeTable)).u64(uint64(s.dirTable)).u64(uint64(s.fragTable)).u64(noTable)
}
