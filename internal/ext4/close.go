package ext4

import (
	"fmt"
	"slices"
	"strings"
)

// linkKey names a directory entry: its directory and its name.
type linkKey struct {
	dir  int64
	name string
}

// linkTarget finds the directory entry a hardlink's target names. Only
// directories are indexed in memory, so the entry itself is found by
// scanning the records.
func (w *Writer) linkTarget(p pendingLink) (linkKey, error) {
	notFound := fmt.Errorf("hardlink %q: target %q not found", p.path, p.target)
	if p.target == "." || p.target == "" {
		return linkKey{}, notFound
	}
	parts := strings.Split(p.target, "/")
	d := int64(rootIno)
	for _, name := range parts[:len(parts)-1] {
		sub, ok := w.inode(d).dir.subdirs[name]
		if !ok {
			return linkKey{}, notFound
		}
		d = sub
	}
	name := parts[len(parts)-1]
	if _, ok := w.inode(d).dir.subdirs[name]; ok {
		return linkKey{}, fmt.Errorf("hardlink %q: target %q is a directory", p.path, p.target)
	}
	return linkKey{d, name}, nil
}

// resolveLinks points every hardlink at its target's inode: it fills
// w.resolved (by the link's record) and returns the links each target
// gains.
func (w *Writer) resolveLinks() (map[int64]uint32, error) {
	w.resolved = map[int64]dent{}
	if len(w.pending) == 0 {
		return nil, nil
	}
	keys := make([]linkKey, len(w.pending))
	found := map[linkKey]*dent{}
	byOff := map[int64]int{}
	for i, p := range w.pending {
		k, err := w.linkTarget(p)
		if err != nil {
			return nil, err
		}
		keys[i], found[k], byOff[p.off] = k, nil, i
	}
	if err := w.findTargets(found); err != nil {
		return nil, err
	}
	links := map[int64]uint32{}
	var resolve func(i, depth int) (dent, error)
	resolve = func(i, depth int) (dent, error) {
		p := w.pending[i]
		if d, ok := w.resolved[p.off]; ok {
			return d, nil
		}
		t := found[keys[i]]
		if t == nil {
			return dent{}, fmt.Errorf("hardlink %q: target %q not found", p.path, p.target)
		}
		d := dent{ino: t.ino, typ: t.typ}
		if d.ino == 0 {
			j, ok := byOff[t.off]
			if !ok || depth > 64 {
				return dent{}, fmt.Errorf("hardlink %q: target %q does not resolve", p.path, p.target)
			}
			var err error
			if d, err = resolve(j, depth+1); err != nil {
				return dent{}, err
			}
		}
		w.resolved[p.off] = d
		if links[d.ino]++; links[d.ino] >= 65000 {
			return dent{}, fmt.Errorf("%q has %d hardlinks, more than 65000", p.target, links[d.ino]+1)
		}
		return d, nil
	}
	for i := range w.pending {
		if _, err := resolve(i, 0); err != nil {
			return nil, err
		}
	}
	return links, nil
}

// findTargets fills found, keyed by the entries wanted, with the first
// record of each, in one pass over the records.
func (w *Writer) findTargets(found map[linkKey]*dent) error {
	return w.spill.scan(func(r record) error {
		k := linkKey{r.parent, r.name}
		if d, ok := found[k]; ok && d == nil {
			found[k] = &dent{ino: r.ino, typ: r.typ, off: r.off}
		}
		return nil
	})
}

// countLinks sets directory link counts.
func (w *Writer) countLinks() error {
	for _, ino := range w.dirs {
		in := w.inode(ino)
		in.links = 2 + uint32(len(in.dir.subdirs))
		if in.links >= 65000 {
			if !w.opts.ext4() {
				return fmt.Errorf("directory %q has too many subdirectories for ext2", w.dirPath(ino))
			}
			in.links = 1 // dir_nlink
		}
	}
	return nil
}

type eaBlock struct {
	blk  int64
	refs uint32
	data []byte
}

// placeXattrs puts in's attributes in the inode when they fit (ext4) and
// in a shared attribute block otherwise; the blocks are written by Close.
func (w *Writer) placeXattrs(in *inode, p string) error {
	if in.x == nil || len(in.x.xattrs) == 0 {
		return nil
	}
	x := in.x
	need := xattrsLen(x.xattrs)
	if w.opts.ext4() && need <= inodeXattrSpace {
		x.inXattr = make([]byte, inodeXattrSpace)
		encodeXattrs(x.inXattr, 0, 0, x.xattrs)
		return nil
	}
	if int64(need+32) > w.lay.bs {
		return fmt.Errorf("xattrs of %q: %d bytes do not fit in a block", p, need)
	}
	data := xattrBlock(x.xattrs, int(w.lay.bs))
	eb := w.xattrs[string(data)]
	if eb == nil || eb.refs >= maxXattrRefs {
		blk, err := w.allocMeta(p)
		if err != nil {
			return err
		}
		eb = &eaBlock{blk: blk, data: data}
		w.xattrs[string(data)] = eb
		w.ea = append(w.ea, eb)
	}
	eb.refs++
	x.eaBlock = eb.blk
	in.meta++
	return nil
}

func (w *Writer) placeDirXattrs() error {
	for _, ino := range w.dirs {
		if err := w.placeXattrs(w.inode(ino), w.dirPath(ino)); err != nil {
			return err
		}
	}
	return nil
}

func (w *Writer) writeXattrBlocks() error {
	for _, eb := range w.ea {
		le.PutUint32(eb.data[4:], eb.refs)
		if err := w.writeBlocks(eb.data, eb.blk); err != nil {
			return fmt.Errorf("writing xattr block %d: %w", eb.blk, err)
		}
	}
	return nil
}

// finish completes a non-directory inode: attributes placed, block map
// built, encoded into the temporary file. Only its link count changes
// after this, which Close patches while copying the inode table.
func (w *Writer) finish(ino int64, in *inode, p string) error {
	if err := w.placeXattrs(in, p); err != nil {
		return err
	}
	if err := w.buildMap(in, p); err != nil {
		return err
	}
	in.encode(w.enc, w.lay.bs, w.crtime)
	return w.spill.putInode(ino, w.enc)
}

// buildMap builds in's extent tree (ext4) or indirect map (ext2).
func (w *Writer) buildMap(in *inode, p string) error {
	t := in.mode & 0xF000
	if t != sIFREG && t != sIFDIR && (t != sIFLNK || in.size < 60) {
		return nil
	}
	if w.opts.ext4() {
		return w.buildExtents(in, p)
	}
	if len(in.runs) > 0 {
		if err := w.buildIndirect(in, p); err != nil {
			return err
		}
	}
	if (in.dataBlocks()+int64(in.meta))*(w.lay.bs/512) > 1<<32-1 {
		return fmt.Errorf("file %q: too many blocks for ext2", p)
	}
	return nil
}

// writeInodeTables copies the inode table from the temporary file to
// the filesystem, group by group in whole blocks, with the directories'
// inodes and the hardlink targets' link counts laid over it.
func (w *Writer) writeInodeTables(links map[int64]uint32) error {
	l := w.lay
	used := w.next - 1
	targets := make([]int64, 0, len(links))
	for ino := range links {
		targets = append(targets, ino)
	}
	slices.Sort(targets)
	chunk := max(l.bs, (256<<10)/l.bs*l.bs)
	buf := make([]byte, chunk)
	dirs := w.dirs
	for g := range l.groups {
		first := g * l.ipg
		n := min(used-first, l.ipg)
		if n <= 0 {
			break
		}
		size := (n*inodeSize + l.bs - 1) / l.bs * l.bs
		for off := int64(0); off < size; off += chunk {
			b := buf[:min(chunk, size-off)]
			if err := w.spill.readInodes(b, first*inodeSize+off); err != nil {
				return err
			}
			lo := first + off/inodeSize + 1
			hi := lo + int64(len(b))/inodeSize
			for ; len(dirs) > 0 && dirs[0] < hi; dirs = dirs[1:] {
				w.inode(dirs[0]).encode(b[(dirs[0]-lo)*inodeSize:], l.bs, w.crtime)
			}
			for ; len(targets) > 0 && targets[0] < hi; targets = targets[1:] {
				le.PutUint16(b[(targets[0]-lo)*inodeSize+0x1A:], uint16(1+links[targets[0]]))
			}
			if err := w.writeBlocks(b, l.itable[g]+off/l.bs); err != nil {
				return fmt.Errorf("writing inode table of group %d: %w", g, err)
			}
		}
	}
	return nil
}
