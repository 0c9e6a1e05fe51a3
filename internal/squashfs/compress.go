package squashfs

import (
	"compress/zlib"
	"errors"
	"fmt"

	"github.com/klauspost/compress/flate"
	"github.com/ulikunitz/xz"
)

// gzipLevel is the zlib level; mksquashfs's default is 9, but level 6
// compresses a root filesystem within about 1% of it at twice the speed.
//
// Gzip blocks use the standard library's compress/zlib on purpose:
// klauspost/compress's deflate emits some Huffman tables that GRUB's
// inflate (grub-core/io/gzio.c) rejects with "failed in building a
// Huffman code table" although zlib accepts them; TestGRUBReadsVariedData
// guards this.
const gzipLevel = 6

// errNoGain stops a compressor as soon as its output is not smaller than
// the input: the block is then stored uncompressed.
var errNoGain = errors.New("compressed data is not smaller")

// boundedBuf collects compressed bytes and fails once they reach limit.
// The failure is sticky and checked by finish, because a compressor may
// drop a write error (ulikunitz/xz can, near the limit) and go
// on writing.
type boundedBuf struct {
	b      []byte
	limit  int
	failed bool
}

func (w *boundedBuf) Write(p []byte) (int, error) {
	if w.failed || len(w.b)+len(p) >= w.limit {
		w.failed = true
		return 0, errNoGain
	}
	w.b = append(w.b, p...)
	return len(p), nil
}

// compressor compresses one block at a time. It is not safe for
// concurrent use; every worker has its own.
type compressor interface {
	// compress appends the compressed form of src to dst[:0]. ok is
	// false when the result would not be smaller than src.
	compress(dst, src []byte) (out []byte, ok bool, err error)
}

// newCompressor returns a compressor whose xz dictionary is dict bytes
// (the block size for data, 8 KiB for metadata).
func newCompressor(c Compression, dict int) (compressor, error) {
	switch c {
	case Gzip:
		zw, err := zlib.NewWriterLevel(nil, gzipLevel)
		if err != nil {
			return nil, fmt.Errorf("creating zlib compressor: %w", err)
		}
		return &zlibCompressor{zw: zw}, nil
	case XZ:
		cfg := xz.WriterConfig{DictCap: dict, CheckSum: xz.CRC32}
		if err := cfg.Verify(); err != nil {
			return nil, fmt.Errorf("configuring xz compressor: %w", err)
		}
		return &xzCompressor{cfg: cfg}, nil
	}
	return nil, fmt.Errorf("unsupported compression %v", c)
}

type zlibCompressor struct {
	zw  *zlib.Writer
	buf boundedBuf
}

func (z *zlibCompressor) compress(dst, src []byte) ([]byte, bool, error) {
	z.buf = boundedBuf{b: dst[:0], limit: len(src)}
	z.zw.Reset(&z.buf)
	_, err := z.zw.Write(src)
	if err == nil {
		err = z.zw.Close()
	}
	return finish(&z.buf, err)
}

// probed skips compressing data blocks that a fast deflate pass cannot
// shrink by a single byte: zlib and LZMA spend as long on random data as
// on text and gain nothing, and root filesystems hold plenty of already
// compressed files (firmware, modules, initrds). Such a block is stored
// as is. Only data whose sole redundancy is repeats more than 32 KiB
// apart loses by this. Only data blocks are probed.
type probed struct {
	inner compressor
	probe *flate.Writer
	buf   boundedBuf
}

// newDataCompressor returns a probed compressor for data blocks.
func newDataCompressor(c Compression, blockSize int) (compressor, error) {
	inner, err := newCompressor(c, blockSize)
	if err != nil {
		return nil, err
	}
	probe, err := flate.NewWriter(nil, flate.BestSpeed)
	if err != nil {
		return nil, fmt.Errorf("creating deflate probe: %w", err)
	}
	return &probed{inner: inner, probe: probe}, nil
}

func (p *probed) compress(dst, src []byte) ([]byte, bool, error) {
	p.buf = boundedBuf{b: dst[:0], limit: len(src)}
	p.probe.Reset(&p.buf)
	_, err := p.probe.Write(src)
	if err == nil {
		err = p.probe.Close()
	}
	if p.buf.failed || err != nil {
		return dst[:0], false, nil
	}
	return p.inner.compress(dst, src)
}

// xzCompressor makes one xz stream per block.
type xzCompressor struct {
	cfg xz.WriterConfig
	buf boundedBuf
}

func (x *xzCompressor) compress(dst, src []byte) ([]byte, bool, error) {
	x.buf = boundedBuf{b: dst[:0], limit: len(src)}
	xw, err := x.cfg.NewWriter(&x.buf)
	if err == nil {
		_, err = xw.Write(src)
	}
	if err == nil {
		err = xw.Close()
	}
	return finish(&x.buf, err)
}

func finish(buf *boundedBuf, err error) ([]byte, bool, error) {
	out := buf.b
	switch {
	case buf.failed || errors.Is(err, errNoGain):
		return out[:0], false, nil
	case err != nil:
		return nil, false, fmt.Errorf("compressing block: %w", err)
	}
	return out, true, nil
}
