package ext4

import (
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/elemental-suite/elemental/internal/rootfs"
)

// Writer builds one filesystem. Add (and Reserve) may be called in any
// order the rootfs stream allows; Close writes the metadata.
type Writer struct {
	mu      sync.Mutex
	out     io.WriterAt
	opts    Options
	lay     *layout
	alloc   *allocator
	zero    []byte
	tails   sync.Pool // *[]byte of one block: the partial block of an open file
	inodes  []*inode  // index ino-1; nil for unused reserved inodes
	pending []pendingLink
	res     []*Reservation
	ind     *indMap // reused by buildIndirect
	open    int
	closed  bool
}

var _ rootfs.Sink = (*Writer)(nil)

// New starts a filesystem of size bytes (rounded down to whole blocks, and
// to whole groups when the last group would be tiny, as mke2fs does)
// occupying [0, size) of w. That region must read as zeros and the caller
// sizes it (for a file, Truncate to size): only allocated blocks are
// written, so the last block usually is not.
func New(w io.WriterAt, size int64, opts Options) (*Writer, error) {
	o, err := opts.normalize()
	if err != nil {
		return nil, fmt.Errorf("ext4 options: %w", err)
	}
	lay, err := newLayout(size, o)
	if err != nil {
		return nil, err
	}
	fw := &Writer{
		out: w, opts: o, lay: lay,
		alloc:  newAllocator(lay.free()),
		zero:   make([]byte, lay.bs),
		inodes: make([]*inode, firstIno-1),
	}
	root := &inode{mode: sIFDIR | 0o755, dir: &dir{parent: rootIno, index: map[string]int{}}}
	root.setTime(o.Time)
	fw.inodes[rootIno-1] = root
	lpf, err := fw.newDir(rootIno, "lost+found", "lost+found")
	if err != nil {
		return nil, err
	}
	fw.inode(lpf).mode = sIFDIR | 0o700
	if o.Journal {
		if err := fw.addJournal(); err != nil {
			return nil, err
		}
	}
	return fw, nil
}

func (w *Writer) addJournal() error {
	n := journalBlocks(w.lay.blocks)
	if n == 0 {
		return fmt.Errorf("filesystem of %d blocks is too small for a journal: %w", w.lay.blocks, ErrNoSpace)
	}
	j := &inode{mode: sIFREG | 0o600, links: 1, size: n * w.lay.bs}
	j.setTime(w.opts.Time)
	w.inodes[journalIno-1] = j
	for got := int64(0); got < n; {
		e, ok := w.alloc.alloc(n - got)
		if !ok {
			return fmt.Errorf("allocating a journal of %d blocks: %w", n, ErrNoSpace)
		}
		j.addRun(got, e.start, e.n)
		got += e.n
	}
	// The mapping is needed now for the superblock's backup copy.
	if err := w.buildExtents(journalIno, j); err != nil {
		return err
	}
	return w.writeBlocks(w.journalSuper(n), j.runs[0].phys)
}

// writeBlocks writes b (whole blocks) at block blk.
func (w *Writer) writeBlocks(b []byte, blk int64) error {
	_, err := w.out.WriteAt(b, blk*w.lay.bs)
	return err
}

// Close resolves hardlinks, writes directories, block maps, attribute
// blocks, inode tables, bitmaps, descriptors and superblocks. It fails if
// a file writer is still open, a Reservation is unfinished or a hardlink
// target never arrived.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return errors.New("closing filesystem: already closed")
	}
	w.closed = true
	if w.open > 0 {
		return fmt.Errorf("closing filesystem: %d files still open", w.open)
	}
	for _, r := range w.res {
		if !r.finished.Load() {
			return fmt.Errorf("closing filesystem: reservation %q not finished", r.path)
		}
	}
	steps := []func() error{
		w.resolveLinks, w.dropIndexes, w.countLinks, w.placeXattrs, w.writeDirs,
		w.writeMaps, w.writeInodeTables, w.writeGroupMeta,
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	// The per-entry state is written out; let it go while the caller
	// closes its other images (issue 7: peak RSS).
	w.inodes, w.pending, w.ind = nil, nil, nil
	return nil
}

// dropIndexes frees the per-directory name indexes once the hardlinks
// are resolved: nothing after that looks a name up, and at a hundred
// thousand entries they are ~8 MiB live while Close allocates the most.
func (w *Writer) dropIndexes() error {
	for _, in := range w.inodes {
		if in != nil && in.dir != nil {
			in.dir.index = nil
		}
	}
	return nil
}

// pathOf finds a path of inode ino for error messages.
func (w *Writer) pathOf(ino int64) string {
	var walk func(d int64, prefix string) string
	walk = func(d int64, prefix string) string {
		for _, e := range w.inode(d).dir.ents {
			p := prefix + e.name
			if e.ino == ino {
				return p
			}
			if e.ino != 0 && w.inode(e.ino).dir != nil {
				if s := walk(e.ino, p+"/"); s != "" {
					return s
				}
			}
		}
		return ""
	}
	if s := walk(rootIno, ""); s != "" {
		return s
	}
	return fmt.Sprintf("<inode %d>", ino)
}

// Size is the filesystem's size in bytes: the size given to New rounded
// down to whole blocks (and groups, when the last one would be tiny).
func (w *Writer) Size() int64 { return w.lay.blocks * w.lay.bs }
