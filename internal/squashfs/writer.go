package squashfs

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/elemental-suite/elemental/internal/rootfs"
)

// superblockSize is the size of the squashfs 4.0 superblock at offset 0.
const superblockSize = 96

// maxSymlinkLen is the longest symlink target the kernel reads (it
// rejects targets longer than a page).
const maxSymlinkLen = 4096

// noFragment is the fragment index of a file without a tail fragment.
const noFragment = 0xFFFFFFFF

// ErrClosed is returned by Add and Close after Close.
var ErrClosed = errors.New("squashfs writer is closed")

// Writer streams a squashfs 4.0 image into an io.WriterAt, starting at
// offset 0. Entries are given with Add; Close writes the tables and the
// superblock. Every byte of the image is written once: the data blocks in
// order as they come, then the tables and the superblock in Close.
// Entries other than directories wait for Close in a temporary spill file
// (see Options.TempDir), so the memory a Writer holds grows by a few
// bytes per entry. Close must be called, also after an error, to stop the
// compression workers and remove the spill file. A Writer is not safe for
// concurrent use.
type Writer struct {
	opts   Options
	w      io.WriterAt
	pipe   *pipeline
	meta   compressor // for metadata tables, used on the caller's goroutine
	zero   []byte     // zeros, to spot sparse blocks
	dirs   []dirNode  // the root first
	dirIdx map[string]uint32
	spill  *spill
	batch  batch

	hardlinks []hardlink
	xattrs    xattrTable

	open    *fileWriter
	frag    []byte      // the fragment block being filled
	nfrags  uint32      // fragment blocks submitted
	frags   [][2]uint64 // start and size word per fragment; pipeline-owned until finish
	closed  bool
	failure error
}

var _ rootfs.Sink = (*Writer)(nil)

// New returns a Writer that writes an image to w with opts.
func New(w io.WriterAt, opts Options) (*Writer, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	meta, err := newCompressor(opts.Compression, metaSize)
	if err != nil {
		return nil, err
	}
	sw := &Writer{
		opts:   opts,
		w:      w,
		meta:   meta,
		zero:   make([]byte, min(opts.BlockSize, zeroSize)),
		dirIdx: map[string]uint32{},
		batch:  batch{buf: make(le, 0, batchSize)},
		xattrs: xattrTable{kv: newMetaWriter(meta), seen: map[string]uint32{}},
	}
	if _, err := sw.newDir("", 0); err != nil {
		return nil, err
	}
	if sw.spill, err = newSpill(opts.TempDir); err != nil {
		return nil, err
	}
	sw.pipe, err = newPipeline(w, superblockSize, opts)
	if err != nil {
		return nil, errors.Join(err, sw.spill.close())
	}
	sw.frag = sw.pipe.buf()
	return sw, nil
}

// Add implements rootfs.Sink. For a regular file the returned writer
// takes exactly e.Size bytes and must be closed before the next Add.
func (w *Writer) Add(e *rootfs.Entry) (io.WriteCloser, error) {
	if w.closed {
		return nil, ErrClosed
	}
	if w.failure != nil {
		return nil, w.failure
	}
	if w.open != nil {
		return nil, fmt.Errorf("adding %q: file %q is still open", e.Path, w.open.path)
	}
	rdev, err := check(e)
	if err != nil {
		return nil, err
	}
	parent, done, err := w.insert(e)
	if err != nil || done {
		return nil, err
	}
	x, err := w.xattrs.add(e)
	if err != nil {
		return nil, fmt.Errorf("entry %q: %w", e.Path, err)
	}
	var nblocks int64
	if e.Type == rootfs.TypeReg {
		nblocks = e.Size / int64(w.opts.BlockSize)
	}
	n := recLen(e, nblocks)
	c, err := w.reserve(n)
	if err != nil {
		return nil, fmt.Errorf("entry %q: %w", e.Path, err)
	}
	pos := len(w.batch.buf)
	w.batch.buf = appendRecord(w.batch.buf, e, x, rdev, n)
	w.dirs[parent].children = append(w.dirs[parent].children, c)
	switch e.Type {
	case rootfs.TypeReg:
		fw := &fileWriter{w: w, path: e.Path, size: e.Size, pos: w.batch.base + int64(pos+recHeader+len(e.Name())+8)}
		if nblocks > 0 {
			fw.blocks = &fileBlocks{sizes: make([]uint32, nblocks)}
			w.batch.patches = append(w.batch.patches, patch{pos: int(fw.pos - w.batch.base), f: fw.blocks})
		}
		w.open = fw
		return fw, nil
	case rootfs.TypeHardlink:
		w.hardlinks = append(w.hardlinks, hardlink{path: strings.Clone(e.Path), target: strings.Clone(e.Linkname), c: c})
	}
	return nil, nil
}

// check validates what e's type needs and returns a device's number.
func check(e *rootfs.Entry) (rdev uint32, err error) {
	switch e.Type {
	case rootfs.TypeDir, rootfs.TypeHardlink, rootfs.TypeFIFO, rootfs.TypeSocket:
	case rootfs.TypeReg:
		if e.Size < 0 {
			return 0, fmt.Errorf("file %q: negative size %d", e.Path, e.Size)
		}
	case rootfs.TypeSymlink:
		if len(e.Linkname) == 0 || len(e.Linkname) > maxSymlinkLen {
			return 0, fmt.Errorf("symlink %q: target length %d is not 1 to %d bytes", e.Path, len(e.Linkname), maxSymlinkLen)
		}
	case rootfs.TypeChar, rootfs.TypeBlock:
		if e.Devmajor > 0xfff || e.Devminor > 0xfffff {
			return 0, fmt.Errorf("device %q: number %d,%d does not fit squashfs's 32 bits", e.Path, e.Devmajor, e.Devminor)
		}
		return encodeDev(e.Devmajor, e.Devminor), nil
	default:
		return 0, fmt.Errorf("entry %q: unsupported type %v", e.Path, e.Type)
	}
	return 0, nil
}

// reserve makes room for a record of n bytes in the batch, handing the
// batch to the pipeline first if it is full, and returns the record's
// child.
func (w *Writer) reserve(n int64) (child, error) {
	if len(w.batch.buf) > 0 && int64(len(w.batch.buf))+n > batchSize {
		if err := w.flushBatch(); err != nil {
			return 0, err
		}
	}
	off := w.batch.base + int64(len(w.batch.buf))
	if n > maxRecord {
		return 0, fmt.Errorf("record of %d bytes (a block list) is over %d", n, maxRecord)
	}
	if off+n > maxSpill {
		return 0, fmt.Errorf("more than %d bytes of entries", maxSpill)
	}
	return child(off / recAlign), nil
}

// flushBatch hands the batch to the pipeline, to be written to the spill
// file after the blocks of the files it describes.
func (w *Writer) flushBatch() error {
	b := w.batch
	if len(b.buf) == 0 {
		return nil
	}
	w.batch = batch{buf: make(le, 0, batchSize), base: b.base + int64(len(b.buf))}
	err := w.pipe.after(func() error {
		b.apply()
		return w.spill.append(b.buf)
	})
	if err != nil {
		w.failure = err
	}
	return err
}

// zeroSize is the size of Writer.zero.
const zeroSize = 64 << 10

// isZero reports whether b is all zeros.
func (w *Writer) isZero(b []byte) bool {
	for len(b) > 0 {
		n := min(len(b), len(w.zero))
		if !bytes.Equal(b[:n], w.zero[:n]) {
			return false
		}
		b = b[n:]
	}
	return true
}

// encodeDev packs a device number the way Linux's new_encode_dev does.
func encodeDev(major, minor uint32) uint32 {
	return minor&0xff | major<<8 | (minor&^0xff)<<12
}

// fileWriter receives one regular file's data.
type fileWriter struct {
	w       *Writer
	path    string
	size    int64
	pos     int64       // spill offset of the record's start field
	blocks  *fileBlocks // nil without full blocks
	sparse  int64
	cur     []byte // the partial block
	written int64
	nblock  int
	done    bool
}

func (fw *fileWriter) Write(p []byte) (int, error) {
	if fw.done {
		return 0, fmt.Errorf("writing file %q: %w", fw.path, io.ErrClosedPipe)
	}
	if fw.written+int64(len(p)) > fw.size {
		return 0, fmt.Errorf("writing file %q: more than its size %d", fw.path, fw.size)
	}
	bs := fw.w.opts.BlockSize
	n := len(p)
	for len(p) > 0 {
		// A whole block of zeros straight from p needs no copy.
		if len(fw.cur) == 0 && len(p) >= bs && fw.w.isZero(p[:bs]) {
			if err := fw.block(nil); err != nil {
				return 0, err
			}
			p = p[bs:]
			fw.written += int64(bs)
			continue
		}
		if fw.cur == nil {
			fw.cur = fw.w.pipe.buf()
		}
		k := min(bs-len(fw.cur), len(p))
		fw.cur = append(fw.cur, p[:k]...)
		p = p[k:]
		fw.written += int64(k)
		if len(fw.cur) == bs {
			b := fw.cur
			fw.cur = nil
			if fw.w.isZero(b) {
				fw.w.pipe.put(b)
				b = nil
			}
			if err := fw.block(b); err != nil {
				return 0, err
			}
		}
	}
	return n, nil
}

// block submits the next full block; nil data means a sparse block.
func (fw *fileWriter) block(data []byte) error {
	i, f := fw.nblock, fw.blocks
	fw.nblock++
	if data == nil {
		fw.sparse += int64(fw.w.opts.BlockSize)
	}
	err := fw.w.pipe.submit(data, data == nil, func(start int64, size uint32) {
		if i == 0 {
			f.start = start
		}
		f.sizes[i] = size
	})
	if err != nil {
		fw.w.failure = err
		return fmt.Errorf("writing file %q: %w", fw.path, err)
	}
	return nil
}

// Close checks the size and packs the file's tail into a fragment.
func (fw *fileWriter) Close() error {
	if fw.done {
		return nil
	}
	fw.done = true
	w := fw.w
	w.open = nil
	if w.closed {
		return fmt.Errorf("closing file %q: %w", fw.path, ErrClosed)
	}
	if fw.written != fw.size {
		w.pipe.put(fw.cur)
		err := fmt.Errorf("file %q: got %d bytes, want %d", fw.path, fw.written, fw.size)
		w.failure = err
		return err
	}
	idx, off := uint32(noFragment), uint32(0)
	if len(fw.cur) > 0 {
		var err error
		if idx, off, err = w.addTail(fw.cur); err != nil {
			return fmt.Errorf("writing tail of file %q: %w", fw.path, err)
		}
	}
	w.pipe.put(fw.cur)
	fw.cur = nil
	// The record is still in the batch: batches are handed on only by
	// Add and Close, and neither runs while a file is open.
	pos := fw.pos - w.batch.base
	if pos < 0 {
		return fmt.Errorf("closing file %q: its record was handed on early", fw.path)
	}
	rec := w.batch.buf[pos:]
	binary.LittleEndian.PutUint64(rec[8:], uint64(fw.sparse))
	binary.LittleEndian.PutUint32(rec[16:], idx)
	binary.LittleEndian.PutUint32(rec[20:], off)
	return nil
}

// addTail appends a file's tail to the current fragment block.
func (w *Writer) addTail(tail []byte) (idx, off uint32, err error) {
	if len(w.frag)+len(tail) > w.opts.BlockSize {
		if err := w.flushFragment(); err != nil {
			return 0, 0, err
		}
	}
	idx, off = w.nfrags, uint32(len(w.frag))
	w.frag = append(w.frag, tail...)
	return idx, off, nil
}

func (w *Writer) flushFragment() error {
	if len(w.frag) == 0 {
		return nil
	}
	data := w.frag
	w.frag = w.pipe.buf()
	w.nfrags++
	err := w.pipe.submit(data, false, func(start int64, size uint32) {
		w.frags = append(w.frags, [2]uint64{uint64(start), uint64(size)})
	})
	if err != nil {
		w.failure = err
	}
	return err
}
