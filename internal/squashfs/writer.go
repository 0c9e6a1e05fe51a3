package squashfs

import (
	"bytes"
	"errors"
	"fmt"
	"io"

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
// superblock. Close must be called, also after an error, to stop the
// compression workers. A Writer is not safe for concurrent use.
type Writer struct {
	opts  Options
	w     io.WriterAt
	pipe  *pipeline
	meta  compressor // for metadata tables, used on the caller's goroutine
	zero  []byte     // one block of zeros, to spot sparse blocks
	root  *node
	nodes map[string]*node

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
		zero:   make([]byte, opts.BlockSize),
		nodes:  map[string]*node{},
		xattrs: xattrTable{kv: newMetaWriter(meta), seen: map[string]uint32{}},
	}
	sw.root = sw.implicitDir("", nil)
	sw.pipe, err = newPipeline(w, superblockSize, opts)
	if err != nil {
		return nil, err
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
	n, err := w.insert(e)
	if err != nil {
		return nil, err
	}
	switch e.Type {
	case rootfs.TypeDir:
	case rootfs.TypeReg:
		if e.Size < 0 {
			return nil, fmt.Errorf("file %q: negative size %d", e.Path, e.Size)
		}
		nblocks := e.Size / int64(w.opts.BlockSize)
		n.file = &fileData{size: e.Size, blocks: make([]uint32, nblocks), fragIdx: noFragment}
		w.open = &fileWriter{w: w, path: e.Path, f: n.file}
		return w.open, nil
	case rootfs.TypeSymlink:
		if len(e.Linkname) == 0 || len(e.Linkname) > maxSymlinkLen {
			return nil, fmt.Errorf("symlink %q: target length %d is not 1 to %d bytes", e.Path, len(e.Linkname), maxSymlinkLen)
		}
		n.target = e.Linkname
	case rootfs.TypeHardlink:
		n.target = e.Linkname
		w.hardlinks = append(w.hardlinks, hardlink{path: e.Path, n: n})
	case rootfs.TypeChar, rootfs.TypeBlock:
		if e.Devmajor > 0xfff || e.Devminor > 0xfffff {
			return nil, fmt.Errorf("device %q: number %d,%d does not fit squashfs's 32 bits", e.Path, e.Devmajor, e.Devminor)
		}
		n.rdev = encodeDev(e.Devmajor, e.Devminor)
	case rootfs.TypeFIFO, rootfs.TypeSocket:
	default:
		return nil, fmt.Errorf("entry %q: unsupported type %v", e.Path, e.Type)
	}
	return nil, nil
}

// encodeDev packs a device number the way Linux's new_encode_dev does.
func encodeDev(major, minor uint32) uint32 {
	return minor&0xff | major<<8 | (minor&^0xff)<<12
}

// fileWriter receives one regular file's data.
type fileWriter struct {
	w       *Writer
	path    string
	f       *fileData
	cur     []byte // the partial block
	written int64
	nblock  int
	done    bool
}

func (fw *fileWriter) Write(p []byte) (int, error) {
	if fw.done {
		return 0, fmt.Errorf("writing file %q: %w", fw.path, io.ErrClosedPipe)
	}
	if fw.written+int64(len(p)) > fw.f.size {
		return 0, fmt.Errorf("writing file %q: more than its size %d", fw.path, fw.f.size)
	}
	bs := fw.w.opts.BlockSize
	n := len(p)
	for len(p) > 0 {
		// A whole block of zeros straight from p needs no copy.
		if len(fw.cur) == 0 && len(p) >= bs && bytes.Equal(p[:bs], fw.w.zero) {
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
			if bytes.Equal(b, fw.w.zero) {
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
	i, f := fw.nblock, fw.f
	fw.nblock++
	if data == nil {
		f.sparse += int64(fw.w.opts.BlockSize)
	}
	err := fw.w.pipe.submit(data, data == nil, func(start int64, size uint32) {
		if i == 0 {
			f.start = start
		}
		f.blocks[i] = size
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
	fw.w.open = nil
	if fw.written != fw.f.size {
		fw.w.pipe.put(fw.cur)
		err := fmt.Errorf("file %q: got %d bytes, want %d", fw.path, fw.written, fw.f.size)
		fw.w.failure = err
		return err
	}
	if len(fw.cur) > 0 {
		idx, off, err := fw.w.addTail(fw.cur)
		if err != nil {
			return fmt.Errorf("writing tail of file %q: %w", fw.path, err)
		}
		fw.f.fragIdx, fw.f.fragOff = idx, off
	}
	fw.w.pipe.put(fw.cur)
	fw.cur = nil
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
