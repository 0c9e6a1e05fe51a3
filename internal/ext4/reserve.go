package ext4

import (
	"fmt"
	"sync/atomic"

	"github.com/elemental-suite/elemental/internal/rootfs"
)

// Reservation is a regular file whose data occupies one contiguous run of
// blocks, written at random offsets (for example by a second Writer
// building a nested filesystem image) and sized by Finish.
type Reservation struct {
	w        *Writer
	ino      int64
	in       *inode
	path     string
	start    int64 // first block
	blocks   int64
	max      int64
	finished atomic.Bool
}

// Reserve adds the regular file e (its Size is ignored) and reserves one
// contiguous run of blocks for up to max bytes of data, taken from the
// start of the highest free run that holds it. On ext4 almost the whole
// filesystem is one free run; on ext2 every group starts with metadata, so
// a reservation is limited to what one group holds (about 127 MiB with
// 4 KiB blocks). It fails with ErrNoSpace when no run is long enough.
//
// Reserve and Finish take blocks from the same allocator as Add, so
// streams that interleave them differently may lay data out differently.
func (w *Writer) Reserve(e *rootfs.Entry, max int64) (*Reservation, error) {
	if e.Type != rootfs.TypeReg {
		return nil, fmt.Errorf("reserving %q: %v is not a regular file", e.Path, e.Type)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil, fmt.Errorf("reserving %q: writer is closed", e.Path)
	}
	if err := w.checkFileSize(e.Path, max); err != nil {
		return nil, err
	}
	n := (max + w.lay.bs - 1) / w.lay.bs
	start, ok := w.alloc.allocContig(n)
	if !ok && n > 0 {
		return nil, fmt.Errorf("reserving %q: no contiguous run of %d blocks: %w", e.Path, n, ErrNoSpace)
	}
	f := *e
	f.Size = 0
	ino, in, err := w.add(&f)
	if err != nil {
		w.alloc.release(extent{start, n})
		return nil, err
	}
	r := &Reservation{w: w, ino: ino, in: in, path: e.Path, start: start, blocks: n, max: max}
	w.res = append(w.res, r)
	return r, nil
}

// WriteAt writes into the file's data. It may run concurrently with
// Writer.Add and with other WriteAt calls, provided the io.WriterAt given
// to New allows concurrent writes (as *os.File does).
func (r *Reservation) WriteAt(p []byte, off int64) (int, error) {
	if r.finished.Load() {
		return 0, fmt.Errorf("writing %q: reservation is finished", r.path)
	}
	if off < 0 || off > r.max || int64(len(p)) > r.max-off {
		return 0, fmt.Errorf("writing %q: %d bytes at %d exceed the reserved %d", r.path, len(p), off, r.max)
	}
	n, err := r.w.out.WriteAt(p, r.Offset()+off)
	if err != nil {
		return n, fmt.Errorf("writing %q: %w", r.path, err)
	}
	return n, nil
}

// Offset is the byte offset of the file's data inside the filesystem.
func (r *Reservation) Offset() int64 { return r.start * r.w.lay.bs }

// Finish sets the file's final size (at most the reserved maximum) and
// frees the blocks past it.
func (r *Reservation) Finish(size int64) error {
	if size < 0 || size > r.max {
		return fmt.Errorf("finishing %q: size %d outside 0..%d", r.path, size, r.max)
	}
	w := r.w
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed || !r.finished.CompareAndSwap(false, true) {
		return fmt.Errorf("finishing %q: already finished or writer closed", r.path)
	}
	used := (size + w.lay.bs - 1) / w.lay.bs
	r.in.size = size
	if used > 0 {
		r.in.addRun(0, r.start, used)
	}
	w.alloc.release(extent{r.start + used, r.blocks - used})
	in := r.in
	r.in = nil
	return w.finish(r.ino, in, r.path)
}
