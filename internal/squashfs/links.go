package squashfs

import (
	"fmt"
	"path"
)

// hardlink is a hardlink entry waiting for Close to resolve its target.
type hardlink struct {
	path   string
	target string
	c      child
}

// sharedInode is an inode that hardlinks point to.
type sharedInode struct {
	nlink   uint32 // hardlinks to it
	ino     uint32 // filled by number
	ref     uint64 // filled when written
	typ     uint16 // basic inode type, filled when written
	written bool
}

// links is the resolved hardlinks: to maps a hardlink's child to its
// final target's, shared holds every inode hardlinks point to.
type links struct {
	to     map[child]child
	shared map[child]*sharedInode
}

// resolveLinks points every hardlink at its final target and counts
// links. Chains (a hardlink to a hardlink) are followed. It needs
// dirIdx, so it runs before Close drops it.
func (w *Writer) resolveLinks() (links, error) {
	l := links{to: map[child]child{}, shared: map[child]*sharedInode{}}
	if len(w.hardlinks) == 0 {
		return l, nil
	}
	r := &linkResolver{w: w, byChild: map[child]int{}, names: map[uint32]map[string]child{}}
	for i, h := range w.hardlinks {
		r.byChild[h.c] = i
	}
	for _, h := range w.hardlinks {
		t, err := r.target(h)
		if err != nil {
			return l, err
		}
		l.to[h.c] = t
		s := l.shared[t]
		if s == nil {
			s = &sharedInode{}
			l.shared[t] = s
		}
		s.nlink++
	}
	return l, nil
}

type linkResolver struct {
	w       *Writer
	byChild map[child]int               // hardlink child → index in w.hardlinks
	names   map[uint32]map[string]child // per directory, its entries that are not directories
}

func (r *linkResolver) target(h hardlink) (child, error) {
	cur := h
	for range len(r.w.hardlinks) + 1 {
		c, isDir, err := r.lookup(cur.target)
		switch {
		case err != nil:
			return 0, err
		case isDir:
			return 0, fmt.Errorf("hardlink %q points to directory %q", h.path, cur.target)
		case c == noChild:
			return 0, fmt.Errorf("hardlink %q points to %q, which is not in the image", h.path, cur.target)
		}
		i, ok := r.byChild[c]
		if !ok {
			return c, nil
		}
		cur = r.w.hardlinks[i]
	}
	return 0, fmt.Errorf("hardlink %q: loop of hardlinks through %q", h.path, h.target)
}

// noChild is what lookup returns for a path not in the image.
const noChild = ^child(0)

// lookup finds the entry at path p.
func (r *linkResolver) lookup(p string) (c child, isDir bool, err error) {
	if _, ok := r.w.dirIdx[p]; ok {
		return 0, true, nil
	}
	// Where Add put it: in path.Dir(p), named path.Base(p).
	d, name := uint32(0), path.Base(p)
	if dp := path.Dir(p); dp != "." {
		var ok bool
		if d, ok = r.w.dirIdx[dp]; !ok {
			return noChild, false, nil
		}
	}
	names, ok := r.names[d]
	if !ok {
		names = map[string]child{}
		for _, c := range r.w.dirs[d].children {
			if c.isDir() {
				continue
			}
			n, _, err := r.w.spill.name(c.off())
			if err != nil {
				return 0, false, err
			}
			names[string(n)] = c
		}
		r.names[d] = names
	}
	if c, ok := names[name]; ok {
		return c, false, nil
	}
	return noChild, false, nil
}
