package ext4

import "fmt"

// Extent tree and indirect block map construction, run when an inode's
// data blocks are all known: when a file's writer closes, when a
// Reservation is finished, and for directories in Close.

const (
	extentMagic  = 0xF30A
	maxExtentLen = 32768
)

// extEntry is a leaf extent (n > 0) or an index entry (n == 0).
type extEntry struct{ logical, phys, n int64 }

func putExtentHeader(b []byte, entries, maxEntries, depth int) {
	le.PutUint16(b[0:], extentMagic)
	le.PutUint16(b[2:], uint16(entries))
	le.PutUint16(b[4:], uint16(maxEntries))
	le.PutUint16(b[6:], uint16(depth))
}

func putExtentEntries(b []byte, es []extEntry) {
	for i, e := range es {
		p := b[12+12*i:]
		le.PutUint32(p[0:], uint32(e.logical))
		if e.n > 0 {
			le.PutUint16(p[4:], uint16(e.n))
			le.PutUint16(p[6:], uint16(e.phys>>32))
			le.PutUint32(p[8:], uint32(e.phys))
		} else {
			le.PutUint32(p[4:], uint32(e.phys))
			le.PutUint16(p[8:], uint16(e.phys>>32))
		}
	}
}

// allocMeta allocates one block for metadata of the inode at p.
func (w *Writer) allocMeta(p string) (int64, error) {
	got, ok := w.alloc.alloc(1)
	if !ok {
		return 0, fmt.Errorf("mapping %q: %w", p, ErrNoSpace)
	}
	return got.start, nil
}

// buildExtents writes in's extent tree: up to 4 extents in the inode,
// otherwise leaf and index blocks below an index root.
func (w *Writer) buildExtents(in *inode, p string) error {
	var level []extEntry
	for _, r := range in.runs {
		for off := int64(0); off < r.n; off += maxExtentLen {
			level = append(level, extEntry{r.logical + off, r.phys + off, min(maxExtentLen, r.n-off)})
		}
	}
	per := int((w.lay.bs - 12) / 12)
	depth := 0
	for len(level) > 4 {
		var next []extEntry
		for i := 0; i < len(level); i += per {
			chunk := level[i:min(i+per, len(level))]
			blk, err := w.allocMeta(p)
			if err != nil {
				return err
			}
			b := make([]byte, w.lay.bs)
			putExtentHeader(b, len(chunk), per, depth)
			putExtentEntries(b, chunk)
			if err := w.writeBlocks(b, blk); err != nil {
				return fmt.Errorf("writing extent block of %q: %w", p, err)
			}
			in.meta++
			next = append(next, extEntry{logical: chunk[0].logical, phys: blk})
		}
		level = next
		depth++
	}
	in.flags |= flagExtents
	clear(in.block[:])
	putExtentHeader(in.block[:], len(level), 4, depth)
	putExtentEntries(in.block[:], level)
	return nil
}

// indNode is an indirect block being filled.
type indNode struct {
	blk  int64
	ptr  []uint32
	kids []*indNode
}

// indMap builds one inode's ext2 block map. One is reused for every
// inode, with its indirect blocks, so that Close does not allocate 12 KiB
// of garbage per mapped file while the whole tree is live (issue 7).
type indMap struct {
	w     *Writer
	path  string
	in    *inode
	q     int64 // pointers per block
	tops  [3]*indNode
	nodes []*indNode
	free  []*indNode
	buf   []byte // one block
}

// reset readies m for the inode at p, keeping the previous inode's blocks.
func (m *indMap) reset(in *inode, p string) {
	m.path, m.in, m.tops = p, in, [3]*indNode{}
	m.free = append(m.free, m.nodes...)
	m.nodes = m.nodes[:0]
}

func (m *indMap) node() (*indNode, error) {
	blk, err := m.w.allocMeta(m.path)
	if err != nil {
		return nil, err
	}
	var n *indNode
	if k := len(m.free); k > 0 {
		n, m.free = m.free[k-1], m.free[:k-1]
		clear(n.ptr)
		clear(n.kids)
		n.blk = blk
	} else {
		n = &indNode{blk: blk, ptr: make([]uint32, m.q), kids: make([]*indNode, m.q)}
	}
	m.nodes = append(m.nodes, n)
	return n, nil
}

// top returns the single (0), double (1) or triple (2) indirect block.
func (m *indMap) top(level int) (*indNode, error) {
	if m.tops[level] == nil {
		n, err := m.node()
		if err != nil {
			return nil, err
		}
		m.tops[level] = n
		le.PutUint32(m.in.block[4*(12+level):], uint32(n.blk))
	}
	return m.tops[level], nil
}

func (m *indMap) child(n *indNode, err error, i int64) (*indNode, error) {
	if err != nil {
		return nil, err
	}
	if n.kids[i] == nil {
		if n.kids[i], err = m.node(); err != nil {
			return nil, err
		}
		n.ptr[i] = uint32(n.kids[i].blk)
	}
	return n.kids[i], nil
}

// set maps logical block l to phys.
func (m *indMap) set(l int64, phys uint32) error {
	q := m.q
	var n *indNode
	var err error
	switch {
	case l < 12:
		le.PutUint32(m.in.block[4*l:], phys)
		return nil
	case l < 12+q:
		l -= 12
		n, err = m.top(0)
	case l < 12+q+q*q:
		l -= 12 + q
		n, err = m.top(1)
		n, err = m.child(n, err, l/q)
	default:
		l -= 12 + q + q*q
		n, err = m.top(2)
		n, err = m.child(n, err, l/(q*q))
		n, err = m.child(n, err, l/q%q)
	}
	if err != nil {
		return err
	}
	n.ptr[l%q] = phys
	return nil
}

// buildIndirect writes in's ext2 block map: 12 direct pointers, then
// single, double and triple indirect blocks, allocated as needed.
func (w *Writer) buildIndirect(in *inode, p string) error {
	if w.ind == nil {
		w.ind = &indMap{w: w, q: w.lay.bs / 4, buf: make([]byte, w.lay.bs)}
	}
	m := w.ind
	m.reset(in, p)
	for _, r := range in.runs {
		for i := range r.n {
			if err := m.set(r.logical+i, uint32(r.phys+i)); err != nil {
				return err
			}
		}
	}
	b := m.buf
	for _, n := range m.nodes {
		for i, p := range n.ptr {
			le.PutUint32(b[4*i:], p)
		}
		if err := w.writeBlocks(b, n.blk); err != nil {
			return fmt.Errorf("writing indirect block of %q: %w", p, err)
		}
	}
	in.meta += uint32(len(m.nodes))
	return nil
}
