package diskformat

import (
	"bytes"
	"fmt"
	"iter"
	"os"
)

// Extent is one run of a sparse file: either data (Data=true) or a hole
// the file system knows about (Data=false). Data extents may still hold
// zero bytes; holes always read as zeros.
type Extent struct {
	Offset int64
	Length int64
	Data   bool
}

// End is the offset one past the extent's last byte.
func (e Extent) End() int64 { return e.Offset + e.Length }

// Extents maps f into alternating data and hole extents that cover
// [0, size) exactly, adjacent extents of the same kind merged. It asks the
// file system (SEEK_DATA/SEEK_HOLE); where that is not supported the whole
// file is one data extent. An empty file has no extents.
func Extents(f *os.File) ([]Extent, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stating raw disk %s: %w", f.Name(), err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("mapping raw disk %s: %w", f.Name(), ErrNotRegular)
	}
	size := fi.Size()
	if size == 0 {
		return nil, nil
	}
	data, err := dataRanges(f, size)
	if err != nil {
		return nil, fmt.Errorf("mapping extents of raw disk %s: %w", f.Name(), err)
	}
	return fillHoles(data, size), nil
}

// fillHoles turns sorted data ranges into a full, merged extent map of
// [0, size).
func fillHoles(data []Extent, size int64) []Extent {
	var out []Extent
	add := func(e Extent) {
		if e.Length <= 0 {
			return
		}
		if n := len(out); n > 0 && out[n-1].Data == e.Data && out[n-1].End() == e.Offset {
			out[n-1].Length += e.Length
			return
		}
		out = append(out, e)
	}
	pos := int64(0)
	for _, d := range data {
		start, end := max(d.Offset, pos), min(d.End(), size)
		if start >= end {
			continue
		}
		add(Extent{Offset: pos, Length: start - pos})
		add(Extent{Offset: start, Length: end - start, Data: true})
		pos = end
	}
	add(Extent{Offset: pos, Length: size - pos})
	return out
}

// dataOnly returns the data extents of a full extent map.
func dataOnly(exts []Extent) []Extent {
	var out []Extent
	for _, e := range exts {
		if e.Data {
			out = append(out, e)
		}
	}
	return out
}

// extentsSize is the file size an extent map covers.
func extentsSize(exts []Extent) int64 {
	if len(exts) == 0 {
		return 0
	}
	return exts[len(exts)-1].End()
}

// dataChunks yields, in increasing order and once each, the offset of every
// chunk-aligned window of the given size that overlaps a data extent.
func dataChunks(data []Extent, chunk int64) iter.Seq[int64] {
	return func(yield func(int64) bool) {
		next := int64(0) // first chunk index not yet yielded
		for _, e := range data {
			if !e.Data || e.Length <= 0 {
				continue
			}
			first, last := e.Offset/chunk, (e.End()-1)/chunk
			for c := max(first, next); c <= last; c++ {
				if !yield(c * chunk) {
					return
				}
			}
			next = max(next, last+1)
		}
	}
}

// chunkReader fills chunk windows from a raw file, reading only the parts
// that the extent map says hold data and zeroing the rest (holes and
// anything past the end of the file). Windows must be asked for in
// increasing order.
type chunkReader struct {
	f    *os.File
	data []Extent // data extents only, sorted
	i    int      // first data extent that may overlap the next window
}

func newChunkReader(f *os.File, exts []Extent) *chunkReader {
	return &chunkReader{f: f, data: dataOnly(exts)}
}

// fill reads the window [off, off+len(buf)) into buf.
func (c *chunkReader) fill(off int64, buf []byte) error {
	clear(buf)
	end := off + int64(len(buf))
	for c.i < len(c.data) && c.data[c.i].End() <= off {
		c.i++
	}
	for j := c.i; j < len(c.data) && c.data[j].Offset < end; j++ {
		e := c.data[j]
		lo, hi := max(e.Offset, off), min(e.End(), end)
		if lo >= hi {
			continue
		}
		if _, err := c.f.ReadAt(buf[lo-off:hi-off], lo); err != nil {
			return fmt.Errorf("reading raw disk %s at %d: %w", c.f.Name(), lo, err)
		}
	}
	return nil
}

// isZero reports whether b holds only zero bytes: the first byte is zero
// and every byte equals the next (one memcmp, no allocation).
func isZero(b []byte) bool {
	return len(b) == 0 || (b[0] == 0 && bytes.Equal(b[:len(b)-1], b[1:]))
}
