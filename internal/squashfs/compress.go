package squashfs

import (
	"errors"
	"fmt"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/zlib"
	"github.com/ulikunitz/xz"
)

// gzipLevel is klauspost/compress's deflate level for gzip images. Level
// 2 deflates a root filesystem about 6x as fast as the standard library's
// level 6 for about 12% more output (docs/performance.md has the
// measurements); mksquashfs's default is zlib level 9, far slower again.
//
// Any level of any encoder emits now and then a Huffman table GRUB's
// inflate rejects (see grubsafe.go), so every block is checked and
// compressed again Huffman-only, or stored, when it would not load.
const gzipLevel = 2

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
		huff, err := zlib.NewWriterLevel(nil, flate.HuffmanOnly)
		if err != nil {
			return nil, fmt.Errorf("creating zlib compressor: %w", err)
		}
		return &zlibCompressor{zws: [2]*zlib.Writer{zw, huff}}, nil
	case XZ:
		cfg := xz.WriterConfig{DictCap: dict, CheckSum: xz.CRC32}
		if err := cfg.Verify(); err != nil {
			return nil, fmt.Errorf("configuring xz compressor: %w", err)
		}
		return &xzCompressor{cfg: cfg}, nil
	}
	return nil, fmt.Errorf("unsupported compression %v", c)
}

// zlibCompressor makes one zlib stream per block that GRUB can inflate:
// at gzipLevel; when GRUB would refuse that, the smaller of Huffman-only
// (literals only, whose one-entry distance table GRUB accepts) and
// pageDeflate (which keeps MaxSize's bound, see pagedeflate.go); else
// none (the block is stored).
type zlibCompressor struct {
	zws  [2]*zlib.Writer
	chk  deflateChecker
	buf  boundedBuf
	page []byte
}

func (z *zlibCompressor) compress(dst, src []byte) ([]byte, bool, error) {
	out, ok, err := z.deflate(z.zws[0], dst, src)
	if err != nil || !ok || z.safe(out) {
		return out, ok, err
	}
	z.page = pageDeflate(z.page, src)
	out, ok, err = z.deflate(z.zws[1], out, src)
	switch {
	case err != nil:
		return out, false, err
	case ok && z.safe(out) && len(out) <= len(z.page):
		return out, true, nil
	case len(z.page) < len(src):
		return append(out[:0], z.page...), true, nil
	}
	return out[:0], false, nil
}

// deflate compresses src with zw into dst[:0]; ok is false when the
// output would not be smaller than src.
func (z *zlibCompressor) deflate(zw *zlib.Writer, dst, src []byte) ([]byte, bool, error) {
	z.buf = boundedBuf{b: dst[:0], limit: len(src)}
	zw.Reset(&z.buf)
	_, err := zw.Write(src)
	if err == nil {
		err = zw.Close()
	}
	return finish(&z.buf, err)
}

// safe reports whether GRUB inflates the zlib stream out (2 header bytes,
// raw deflate, Adler-32).
func (z *zlibCompressor) safe(out []byte) bool {
	return len(out) > 6 && z.chk.grubSafe(out[2:len(out)-4])
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

// newDataCompressor returns the compressor for data blocks: probed for
// xz, as is for gzip, whose deflate at gzipLevel is itself as fast as the
// probe and gives up on incompressible data as early.
func newDataCompressor(c Compression, blockSize int) (compressor, error) {
	inner, err := newCompressor(c, blockSize)
	if err != nil || c == Gzip {
		return inner, err
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
