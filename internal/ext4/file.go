package ext4

import (
	"bytes"
	"fmt"
)

// fileWriter streams one regular file's data to its final blocks. Physical
// blocks are taken from the allocator in chunks as large as the rest of
// the file; all-zero blocks are skipped and become holes.
type fileWriter struct {
	w       *Writer
	ino     int64
	in      *inode
	path    string
	size    int64
	written int64
	logical int64  // next logical block
	buf     []byte // the incomplete block at the end
	chunk   extent // allocated, not yet used
	closed  bool
}

func (f *fileWriter) Write(p []byte) (int, error) {
	if f.closed {
		return 0, fmt.Errorf("writing %q: file is closed", f.path)
	}
	if int64(len(p)) > f.size-f.written {
		return 0, fmt.Errorf("writing %q: more than the %d bytes announced", f.path, f.size)
	}
	n := len(p)
	bs := int(f.w.lay.bs)
	if len(f.buf) > 0 {
		k := min(bs-len(f.buf), len(p))
		f.buf = append(f.buf, p[:k]...)
		p = p[k:]
		if len(f.buf) == bs {
			if err := f.blocks(f.buf); err != nil {
				return 0, err
			}
			f.buf = f.buf[:0]
		}
	}
	if full := len(p) / bs * bs; full > 0 {
		if err := f.blocks(p[:full]); err != nil {
			return 0, err
		}
		p = p[full:]
	}
	if len(p) > 0 {
		if f.buf == nil {
			f.buf = f.w.tail()
		}
		f.buf = append(f.buf, p...)
	}
	f.written += int64(n)
	return n, nil
}

// blocks writes whole blocks; len(p) is a multiple of the block size.
func (f *fileWriter) blocks(p []byte) error {
	bs := int(f.w.lay.bs)
	zero := f.w.zero
	for len(p) > 0 {
		if bytes.Equal(p[:bs], zero) {
			f.logical++
			p = p[bs:]
			continue
		}
		k := 1
		for k*bs < len(p) && !bytes.Equal(p[k*bs:(k+1)*bs], zero) {
			k++
		}
		for k > 0 {
			if f.chunk.n == 0 {
				if err := f.grab(); err != nil {
					return err
				}
			}
			m := min(k, int(f.chunk.n))
			if err := f.w.writeBlocks(p[:m*bs], f.chunk.start); err != nil {
				return fmt.Errorf("writing %q: %w", f.path, err)
			}
			f.in.addRun(f.logical, f.chunk.start, int64(m))
			f.chunk.start += int64(m)
			f.chunk.n -= int64(m)
			f.logical += int64(m)
			p = p[m*bs:]
			k -= m
		}
	}
	return nil
}

// grab allocates blocks for the rest of the file, or as many as the next
// free run holds.
func (f *fileWriter) grab() error {
	bs := f.w.lay.bs
	rest := (f.size - f.logical*bs + bs - 1) / bs
	f.w.mu.Lock()
	got, ok := f.w.alloc.alloc(max(rest, 1))
	f.w.mu.Unlock()
	if !ok {
		return fmt.Errorf("writing %q: %w", f.path, ErrNoSpace)
	}
	f.chunk = got
	return nil
}

func (f *fileWriter) Close() error {
	if f.closed {
		return nil
	}
	f.closed = true
	var err error
	if len(f.buf) > 0 {
		b := f.buf[:f.w.lay.bs]
		clear(b[len(f.buf):])
		err = f.blocks(b)
	}
	if f.buf != nil {
		b := f.buf
		f.w.tails.Put(&b)
		f.buf = nil
	}
	if err == nil && f.written != f.size {
		err = fmt.Errorf("writing %q: got %d of %d bytes", f.path, f.written, f.size)
	}
	w := f.w
	w.mu.Lock()
	defer w.mu.Unlock()
	w.alloc.release(f.chunk)
	f.chunk = extent{}
	w.open--
	in := f.in
	f.in = nil
	if err != nil {
		return err
	}
	if w.closed {
		return fmt.Errorf("closing %q: filesystem already closed", f.path)
	}
	// The inode is final but for its link count: it leaves the heap now.
	return w.finish(f.ino, in, f.path)
}

// tail returns an empty buffer of one block from the pool: most files end
// in a partial block, and allocating one per file was most of the
// writer's garbage.
func (w *Writer) tail() []byte {
	if p, ok := w.tails.Get().(*[]byte); ok {
		return (*p)[:0]
	}
	return make([]byte, 0, w.lay.bs)
}
