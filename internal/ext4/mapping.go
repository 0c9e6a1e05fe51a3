package ext4

import "fmt"

// Extent tree and indirect block map construction, run by Close once all
// data blocks are known.

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

// allocMeta allocates one block for metadata of inode ino.
func (w *Writer) allocMeta(ino int64) (int64, error) {
	got, ok := w.alloc.alloc(1)
	if !ok {
		return 0, fmt.Errorf("mapping %q: %w", w.pathOf(ino), ErrNoSpace)
	}
	return got.start, nil
}

// buildExtents writes in's extent tree: up to 4 extents in the inode,
// otherwise leaf and index blocks below an index root.
func (w *Writer) buildExtents(ino int64, in *inode) error {
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
			blk, err := w.allocMeta(ino)
			if err != nil {
				return err
			}
			b := make([]byte, w.lay.bs)
			putExtentHeader(b, len(chunk), per, depth)
			putExtentEntries(b, chunk)
			if err := w.writeBlocks(b, blk); err != nil {
				return fmt.Errorf("writing extent block of %q: %w", w.pathOf(ino), err)
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

// buildIndirect writes in's ext2 block map: 12 direct pointers, then
// single, double and triple indirect blocks, allocated as needed.
func (w *Writer) buildIndirect(ino int64, in *inode) error {
	q := w.lay.bs / 4
	var tops [3]*indNode
	var nodes []*indNode
	var err error
	newNode := func() *indNode {
		if err != nil {
			return nil
		}
		var blk int64
		if blk, err = w.allocMeta(ino); err != nil {
			return nil
		}
		n := &indNode{blk: blk, ptr: make([]uint32, q), kids: make([]*indNode, q)}
		nodes = append(nodes, n)
		return n
	}
	child := func(n *indNode, i int64) *indNode {
		if n != nil && n.kids[i] == nil {
			if n.kids[i] = newNode(); n.kids[i] != nil {
				n.ptr[i] = uint32(n.kids[i].blk)
			}
		}
		if n == nil {
			return nil
		}
		return n.kids[i]
	}
	top := func(level int) *indNode {
		if tops[level] == nil {
			if tops[level] = newNode(); tops[level] != nil {
				le.PutUint32(in.block[4*(12+level):], uint32(tops[level].blk))
			}
		}
		return tops[level]
	}
	for _, r := range in.runs {
		for i := range r.n {
			l, phys := r.logical+i, uint32(r.phys+i)
			switch {
			case l < 12:
				le.PutUint32(in.block[4*l:], phys)
				continue
			case l < 12+q:
				n := top(0)
				if n != nil {
					n.ptr[l-12] = phys
				}
			case l < 12+q+q*q:
				l -= 12 + q
				if n := child(top(1), l/q); n != nil {
					n.ptr[l%q] = phys
				}
			default:
				l -= 12 + q + q*q
				if n := child(child(top(2), l/(q*q)), l/q%q); n != nil {
					n.ptr[l%q] = phys
				}
			}
			if err != nil {
				return err
			}
		}
	}
	b := make([]byte, w.lay.bs)
	for _, n := range nodes {
		for i, p := range n.ptr {
			le.PutUint32(b[4*i:], p)
		}
		if err := w.writeBlocks(b, n.blk); err != nil {
			return fmt.Errorf("writing indirect block of %q: %w", w.pathOf(ino), err)
		}
	}
	in.meta += int64(len(nodes))
	return nil
}
