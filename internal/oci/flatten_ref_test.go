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

// refFlattener is the flattener as it was before pathTree: plain maps
// from path strings. It is kept as the reference the tree-based
// flattener must match entry for entry and error for error.
type refFlattener struct {
	sink   rootfs.Sink
	layer  int
	digest string
	// seen holds every path delivered (or, for hardlinks, pending).
	seen map[string]refSeenEntry
	// whiteout and opaque hold the topmost layer that hid a path or the
	// lower contents of a directory.
	whiteout, opaque map[string]int
	// parentOf holds the topmost layer in which a path was the parent of
	// an entry, i.e. a directory.
	parentOf map[string]int
	links    []pendingLink
}

type refSeenEntry struct {
	layer    int
	typ      rootfs.Type
	linkname string // hardlink target
}

func newRefFlattener(sink rootfs.Sink) *refFlattener {
	return &refFlattener{
		sink: sink, seen: map[string]refSeenEntry{}, whiteout: map[string]int{},
		opaque: map[string]int{}, parentOf: map[string]int{},
	}
}

// add processes one tar entry of the current layer.
func (f *refFlattener) add(ctx context.Context, hdr *tar.Header, data io.Reader, buf []byte) error {
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
	f.record(p, refSeenEntry{layer: f.layer, typ: e.Type, linkname: e.Linkname})
	if e.Type == rootfs.TypeHardlink {
		f.links = append(f.links, pendingLink{e: e, layer: f.layer, digest: f.digest})
		return nil
	}
	return emit(ctx, f.sink, &e, data, buf)
}

// addWhiteout records a ".wh." entry at p, which hides a path (or, for
// the opaque marker, a directory's contents) in lower layers only.
func (f *refFlattener) addWhiteout(p string) error {
	dir, base := path.Dir(p), path.Base(p)
	if base == opaqueMarker {
		return refSetOnce(f.opaque, dir, f.layer)
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
	return refSetOnce(f.whiteout, t, f.layer)
}

func refSetOnce(m map[string]int, k string, layer int) error {
	if l, ok := m[k]; ok {
		if l == layer {
			return ErrDuplicate
		}
		return nil
	}
	m[k] = layer
	return nil
}

// visible reports whether an entry of the current layer at p survives in
// the flattened view, and fails on duplicates and on entries whose parent
// is not a directory within the same layer.
func (f *refFlattener) visible(p string, typ rootfs.Type) (bool, error) {
	if s, ok := f.seen[p]; ok {
		if s.layer == f.layer {
			return false, ErrDuplicate
		}
		return false, nil // shadowed by an upper layer
	}
	if l, ok := f.whiteout[p]; ok && l < f.layer {
		return false, nil
	}
	if l, ok := f.parentOf[p]; ok && typ != rootfs.TypeDir {
		if l == f.layer {
			return false, fmt.Errorf("%v has entries below it: %w", typ, ErrBadEntry)
		}
		return false, nil // an upper layer made it a directory
	}
	for d := p; d != "."; {
		d = path.Dir(d)
		if l, ok := f.whiteout[d]; ok && l < f.layer {
			return false, nil
		}
		if l, ok := f.opaque[d]; ok && l < f.layer {
			return false, nil
		}
		if s, ok := f.seen[d]; ok && s.typ != rootfs.TypeDir {
			if s.layer == f.layer {
				return false, fmt.Errorf("parent %q is a %v: %w", d, s.typ, ErrBadEntry)
			}
			return false, nil // an upper layer replaced the directory
		}
	}
	return true, nil
}

func (f *refFlattener) record(p string, s refSeenEntry) {
	f.seen[p] = s
	for d := p; d != "."; {
		d = path.Dir(d)
		if _, ok := f.parentOf[d]; ok {
			break
		}
		f.parentOf[d] = f.layer
	}
}

// finish delivers the pending hardlinks, each pointing at the final
// non-hardlink entry of its chain.
func (f *refFlattener) finish(ctx context.Context) error {
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

func (f *refFlattener) resolve(l *pendingLink) (string, error) {
	t, layer := l.e.Linkname, l.layer
	for range maxLinkHops {
		s, ok := f.seen[t]
		switch {
		case !ok:
			return "", fmt.Errorf("hardlink target %q is absent or hidden in the flattened image: %w", t, ErrBadHardlink)
		case s.layer < layer:
			return "", fmt.Errorf("hardlink target %q was replaced by a later layer: %w", t, ErrBadHardlink)
		case s.typ == rootfs.TypeDir:
			return "", fmt.Errorf("hardlink target %q is a directory: %w", t, ErrBadHardlink)
		case s.typ != rootfs.TypeHardlink:
			return t, nil
		}
		t, layer = s.linkname, s.layer
	}
	return "", fmt.Errorf("hardlink chain from %q is a loop: %w", l.e.Linkname, ErrBadHardlink)
}
