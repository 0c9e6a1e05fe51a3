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
//
// Per entry the heap holds nothing once a file is closed: its inode goes
// to the temporary file (see spill) and its directory entry too. Only
// directories, hardlinks and shared attribute blocks stay in memory.
type Writer struct {
	mu       sync.Mutex
	out      io.WriterAt
	opts     Options
	lay      *layout
	alloc    *allocator
	zero     []byte
	tails    sync.Pool // *[]byte of one block: the partial block of an open file
	spill    *spill
	next     int64            // the next inode number; all below it are taken
	dirs     []int64          // directory inodes, ascending
	mem      map[int64]*inode // directories and the journal
	pending  []pendingLink
	resolved map[int64]dent      // hardlinks by record, set by Close
	xattrs   map[string]*eaBlock // shared attribute blocks by content
	ea       []*eaBlock          // the same, in allocation order
	res      []*Reservation
	ind      *indMap // reused by buildIndirect
	crtime   int64
	enc      []byte // one encoded inode
	open     int
	closed   bool
}

var _ rootfs.Sink = (*Writer)(nil)

// New starts a filesystem of size bytes (rounded down to whole blocks, and
// to whole groups when the last group would be tiny, as mke2fs does)
// occupying [0, size) of w. That region must read as zeros and the caller
// sizes it (for a file, Truncate to size): only allocated blocks are
// written, so the last block usually is not. Every byte of the region is
// written at most once. New creates a temporary file in opts.TempDir,
// which Close removes.
func New(w io.WriterAt, size int64, opts Options) (*Writer, error) {
	o, err := opts.normalize()
	if err != nil {
		return nil, fmt.Errorf("ext4 options: %w", err)
	}
	lay, err := newLayout(size, o)
	if err != nil {
		return nil, err
	}
	sp, err := newSpill(o.TempDir, lay.inodes())
	if err != nil {
		return nil, err
	}
	fw := &Writer{
		out: w, opts: o, lay: lay, spill: sp,
		alloc:  newAllocator(lay.free()),
		zero:   make([]byte, lay.bs),
		next:   firstIno,
		mem:    map[int64]*inode{},
		xattrs: map[string]*eaBlock{},
		crtime: o.Time.Unix(),
		enc:    make([]byte, inodeSize),
	}
	if err := fw.init(); err != nil {
		sp.close()
		return nil, err
	}
	return fw, nil
}

// init creates the root directory, lost+found and the journal.
func (w *Writer) init() error {
	root := &inode{mode: sIFDIR | 0o755, dir: newDirState(rootIno, "")}
	root.setTime(w.opts.Time)
	w.mem[rootIno] = root
	w.dirs = append(w.dirs, rootIno)
	lpf, err := w.newDir(rootIno, "lost+found", "lost+found")
	if err != nil {
		return err
	}
	w.inode(lpf).mode = sIFDIR | 0o700
	if w.opts.Journal {
		return w.addJournal()
	}
	return nil
}

func (w *Writer) addJournal() error {
	n := journalBlocks(w.lay.blocks)
	if n == 0 {
		return fmt.Errorf("filesystem of %d blocks is too small for a journal: %w", w.lay.blocks, ErrNoSpace)
	}
	j := &inode{mode: sIFREG | 0o600, links: 1, size: n * w.lay.bs}
	j.setTime(w.opts.Time)
	w.mem[journalIno] = j
	for got := int64(0); got < n; {
		e, ok := w.alloc.alloc(n - got)
		if !ok {
			return fmt.Errorf("allocating a journal of %d blocks: %w", n, ErrNoSpace)
		}
		j.addRun(got, e.start, e.n)
		got += e.n
	}
	// The mapping is needed now for the superblock's backup copy.
	if err := w.finish(journalIno, j, "<journal>"); err != nil {
		return err
	}
	return w.writeBlocks(w.journalSuper(n), j.runs[0].phys)
}

// writeBlocks writes b (whole blocks) at block blk.
func (w *Writer) writeBlocks(b []byte, blk int64) error {
	_, err := w.out.WriteAt(b, blk*w.lay.bs)
	return err
}

// Close resolves hardlinks, writes directories, their block maps,
// attribute blocks, inode tables, bitmaps, descriptors and superblocks.
// It fails if a file writer is still open, a Reservation is unfinished, a
// hardlink target never arrived or a name was added twice. The temporary
// file is removed whatever the outcome.
func (w *Writer) Close() (err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return errors.New("closing filesystem: already closed")
	}
	w.closed = true
	defer func() {
		if cerr := w.spill.close(); err == nil {
			err = cerr
		}
		// The per-entry state is written out; let it go while the
		// caller closes its other images (issue 7: peak RSS).
		w.mem, w.pending, w.ind, w.xattrs, w.ea = nil, nil, nil, nil, nil
	}()
	if w.open > 0 {
		return fmt.Errorf("closing filesystem: %d files still open", w.open)
	}
	for _, r := range w.res {
		if !r.finished.Load() {
			return fmt.Errorf("closing filesystem: reservation %q not finished", r.path)
		}
	}
	if err := w.spill.flush(); err != nil {
		return err
	}
	links, err := w.resolveLinks()
	if err != nil {
		return err
	}
	steps := []func() error{
		w.countLinks, w.placeDirXattrs, w.writeDirs, w.writeDirMaps, w.writeXattrBlocks,
		func() error { return w.writeInodeTables(links) }, w.writeGroupMeta,
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

// Size is the filesystem's size in bytes: the size given to New rounded
// down to whole blocks (and groups, when the last one would be tiny).
func (w *Writer) Size() int64 { return w.lay.blocks * w.lay.bs }
