package oci

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/elemental-suite/elemental/internal/rootfs"
)

const (
	whiteoutPrefix = ".wh."
	opaqueMarker   = ".wh..wh..opq"
	maxLinkHops    = 64
)

// flattener keeps what upper layers said about each path while lower
// layers are read. Layer numbers count from the top layer (0), so "from an
// upper layer" is "number smaller than the current one". The paths live in
// a pathTree, whose nodes carry the layer that delivered the path (seen)
// and the topmost layer in which it was a parent (parentOf); the few
// whiteouts, opaque markers and hardlinks are kept by node number.
type flattener struct {
	sink   rootfs.Sink
	layer  int
	digest string
	tree   *pathTree
	// whiteout and opaque hold the topmost layer that hid a path or the
	// lower contents of a directory.
	whiteout, opaque map[uint32]int
	// linkname holds the target of each hardlink node.
	linkname map[uint32]string
	links    []pendingLink
	// chain is walk's answer for the entry being added.
	chain []uint32
}

type pendingLink struct {
	e      rootfs.Entry
	layer  int
	digest string
}

func newFlattener(sink rootfs.Sink) *flattener {
	return &flattener{
		sink: sink, tree: newPathTree(), whiteout: map[uint32]int{},
		opaque: map[uint32]int{}, linkname: map[uint32]string{},
	}
}

// add processes one tar entry of the current layer.
func (f *flattener) add(ctx context.Context, hdr *tar.Header, data io.Reader, buf []byte) error {
	if hdr.Typeflag == tar.TypeXGlobalHeader {
		return nil
	}
	p, ok := rootfs.CleanPath(hdr.Name)
	if !ok {
		return ErrUnsafePath
	}
	if strings.HasPrefix(p, whiteoutPrefix+whiteoutPrefix) && p != opaqueMarker {
		return nil // AUFS metadata (.wh..wh.plnk/…) at the layer root
	}
	if strings.HasPrefix(path.Base(p), whiteoutPrefix) {
		return f.addWhiteout(p)
	}
	if err := checkElements(p); err != nil {
		return err
	}
	e, err := toEntry(hdr, p)
	if err != nil {
		return err
	}
	visible, err := f.visible(p, e.Type)
	if err != nil || !visible {
		return err
	}
	if err := f.record(p, e.Type, e.Linkname); err != nil {
		return err
	}
	if e.Type == rootfs.TypeHardlink {
		f.links = append(f.links, pendingLink{e: e, layer: f.layer, digest: f.digest})
		return nil
	}
	return emit(ctx, f.sink, &e, data, buf)
}

// addWhiteout records a ".wh." entry at p, which hides a path (or, for
// the opaque marker, a directory's contents) in lower layers only.
func (f *flattener) addWhiteout(p string) error {
	dir, base := path.Dir(p), path.Base(p)
	if base == opaqueMarker {
		return f.setOnce(f.opaque, dir)
	}
	if strings.HasPrefix(base, whiteoutPrefix+whiteoutPrefix) {
		return nil // other AUFS metadata (.wh..wh.plnk and friends)
	}
	target := strings.TrimPrefix(base, whiteoutPrefix)
	if target == "" || target == "." || target == ".." || strings.Contains(target, "/") {
		return fmt.Errorf("whiteout %q hides %q: %w", base, target, ErrBadWhiteout)
	}
	t := path.Join(dir, target)
	if err := checkElements(t); err != nil {
		return err
	}
	return f.setOnce(f.whiteout, t)
}

// setOnce records the current layer for p in m unless a layer already
// is there; twice in one layer is a duplicate.
func (f *flattener) setOnce(m map[uint32]int, p string) error {
	chain, err := f.tree.extend(p, f.tree.walk(p, f.chain[:0]))
	f.chain = chain
	if err != nil {
		return err
	}
	k := chain[len(chain)-1]
	if l, ok := m[k]; ok {
		if l == f.layer {
			return ErrDuplicate
		}
		return nil
	}
	m[k] = f.layer
	return nil
}

// visible reports whether an entry of the current layer at p survives in
// the flattened view, and fails on duplicates and on entries whose parent
// is not a directory within the same layer. It leaves p's chain in
// f.chain for record.
func (f *flattener) visible(p string, typ rootfs.Type) (bool, error) {
	f.chain = f.tree.walk(p, f.chain[:0])
	chain, cur := f.chain, f.layer+1
	if len(chain) == depth(p)+1 {
		id := chain[len(chain)-1]
		n := f.tree.node(id)
		if s := n.seen(); s != 0 {
			if s == cur {
				return false, ErrDuplicate
			}
			return false, nil // shadowed by an upper layer
		}
		if l, ok := f.whiteout[id]; ok && l < f.layer {
			return false, nil
		}
		if l := n.parentOf(); l != 0 && typ != rootfs.TypeDir {
			if l == cur {
				return false, fmt.Errorf("%v has entries below it: %w", typ, ErrBadEntry)
			}
			return false, nil // an upper layer made it a directory
		}
		chain = chain[:len(chain)-1]
	}
	// The ancestors, nearest first, down to the root.
	for i := len(chain) - 1; i >= 0; i-- {
		id := chain[i]
		if l, ok := f.whiteout[id]; ok && l < f.layer {
			return false, nil
		}
		if l, ok := f.opaque[id]; ok && l < f.layer {
			return false, nil
		}
		if n := f.tree.node(id); n.seen() != 0 && n.typ() != rootfs.TypeDir {
			if n.seen() == cur {
				return false, fmt.Errorf("parent %q is a %v: %w", ancestor(p, i), n.typ(), ErrBadEntry)
			}
			return false, nil // an upper layer replaced the directory
		}
	}
	return true, nil
}

// ancestor returns the first i elements of the clean path p ("." for 0).
func ancestor(p string, i int) string {
	if i == 0 {
		return "."
	}
	end := 0
	for range i {
		j := strings.IndexByte(p[end:], '/')
		if j < 0 {
			return p
		}
		end += j + 1
	}
	return p[:end-1]
}

// record marks p as delivered (or pending) by the current layer, and its
// ancestors as directories from this layer on, using the chain visible
// left.
func (f *flattener) record(p string, typ rootfs.Type, linkname string) error {
	chain, err := f.tree.extend(p, f.chain)
	f.chain = chain
	if err != nil {
		return err
	}
	id := chain[len(chain)-1]
	f.tree.node(id).setSeen(f.layer+1, typ)
	if typ == rootfs.TypeHardlink {
		f.linkname[id] = linkname
	}
	for i := len(chain) - 2; i >= 0; i-- {
		if !f.tree.node(chain[i]).setParent(f.layer + 1) {
			break // once a path is marked, so are its ancestors
		}
	}
	return nil
}

// finish delivers the pending hardlinks, each pointing at the final
// non-hardlink entry of its chain.
func (f *flattener) finish(ctx context.Context) error {
	for i := range f.links {
		if err := ctx.Err(); err != nil {
			return err
		}
		l := &f.links[i]
		t, err := f.resolve(l)
		if err != nil {
			return fmt.Errorf("layer %s: entry %q: %w", l.digest, l.e.Path, err)
		}
		l.e.Linkname = t
		if err := emit(ctx, f.sink, &l.e, nil, nil); err != nil {
			return fmt.Errorf("layer %s: entry %q: %w", l.digest, l.e.Path, err)
		}
	}
	return nil
}

func (f *flattener) resolve(l *pendingLink) (string, error) {
	t, layer := l.e.Linkname, l.layer+1
	for range maxLinkHops {
		f.chain = f.tree.walk(t, f.chain[:0])
		var n *node
		if len(f.chain) == depth(t)+1 {
			n = f.tree.node(f.chain[len(f.chain)-1])
		}
		switch {
		case n == nil || n.seen() == 0:
			return "", fmt.Errorf("hardlink target %q is absent or hidden in the flattened image: %w", t, ErrBadHardlink)
		case n.seen() < layer:
			return "", fmt.Errorf("hardlink target %q was replaced by a later layer: %w", t, ErrBadHardlink)
		case n.typ() == rootfs.TypeDir:
			return "", fmt.Errorf("hardlink target %q is a directory: %w", t, ErrBadHardlink)
		case n.typ() != rootfs.TypeHardlink:
			return t, nil
		}
		t, layer = f.linkname[f.chain[len(f.chain)-1]], n.seen()
	}
	return "", fmt.Errorf("hardlink chain from %q is a loop: %w", l.e.Linkname, ErrBadHardlink)
}
