package squashfs

import (
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/elemental-suite/elemental/internal/rootfs"
)

// maxNameLen is SQUASHFS_NAME_LEN.
const maxNameLen = 256

// noXattr is the xattr index of an inode without xattrs.
const noXattr = 0xFFFFFFFF

// node is one directory entry of the image being built. One lives per
// entry for the whole build, so the fields are ordered to pack into 96
// bytes: what only directories need sits behind dir, and the type is
// kept in a byte.
type node struct {
	name     string
	target   string    // symlink target; hardlink target path
	dir      *dirNode  // directories
	file     *fileData // regular files
	link     *node     // hardlinks: the resolved target
	ref      uint64    // inode reference, filled in Close
	uid, gid uint32
	mtime    uint32
	xattr    uint32
	rdev     uint32 // devices
	nlink    uint32 // filled in Close
	ino      uint32 // inode number, filled in Close
	mode     uint16
	t        uint8 // rootfs.Type
	explicit bool  // an entry for it arrived (directories may be implicit)
}

// dirNode is what a directory node has beyond a node.
type dirNode struct {
	parent   *node // nil for the root
	children []*node
}

func (n *node) typ() rootfs.Type { return rootfs.Type(n.t) }

// fileData is what a regular file's inode needs to know about its data.
// start and blocks are filled on the pipeline's writer goroutine and read
// only after the pipeline has finished.
type fileData struct {
	size    int64
	start   int64
	blocks  []uint32
	sparse  int64
	fragIdx uint32
	fragOff uint32
}

// setMeta copies an entry's metadata into n.
func (w *Writer) setMeta(n *node, e *rootfs.Entry) error {
	n.t = uint8(e.Type)
	n.mode = uint16(e.Mode & rootfs.ModePerm)
	n.uid, n.gid = e.UID, e.GID
	n.mtime = unixTime(e.ModTime)
	n.explicit = true
	x, err := w.xattrs.add(e)
	if err != nil {
		return fmt.Errorf("entry %q: %w", e.Path, err)
	}
	n.xattr = x
	return nil
}

func (w *Writer) implicitDir(name string, parent *node) *node {
	return &node{name: name, t: uint8(rootfs.TypeDir), mode: 0o755, mtime: unixTime(w.opts.Time), xattr: noXattr, dir: &dirNode{parent: parent}}
}

// insert places e in the tree and returns its node with e's metadata.
func (w *Writer) insert(e *rootfs.Entry) (*node, error) {
	if e.Path == "." {
		if e.Type != rootfs.TypeDir {
			return nil, fmt.Errorf("root entry \".\" is a %v, not a directory", e.Type)
		}
		if w.root.explicit {
			return nil, fmt.Errorf("duplicate entry %q", e.Path)
		}
		return w.root, w.setMeta(w.root, e)
	}
	if strings.IndexByte(e.Path, 0) >= 0 {
		return nil, fmt.Errorf("name %q contains a NUL byte", e.Path)
	}
	if len(e.Name()) > maxNameLen {
		return nil, fmt.Errorf("entry %q: name longer than %d bytes", e.Path, maxNameLen)
	}
	if n, ok := w.nodes[e.Path]; ok {
		if n.explicit {
			return nil, fmt.Errorf("duplicate entry %q", e.Path)
		}
		if e.Type != rootfs.TypeDir {
			return nil, fmt.Errorf("entry %q is a %v but earlier entries are inside it", e.Path, e.Type)
		}
		return n, w.setMeta(n, e)
	}
	parent, err := w.dir(e.Dir())
	if err != nil {
		return nil, fmt.Errorf("entry %q: %w", e.Path, err)
	}
	n := &node{name: e.Name()}
	if e.Type == rootfs.TypeDir {
		n.dir = &dirNode{parent: parent}
	}
	if err := w.setMeta(n, e); err != nil {
		return nil, err
	}
	parent.dir.children = append(parent.dir.children, n)
	w.nodes[e.Path] = n
	return n, nil
}

// dir returns the directory at p, creating it and its parents if needed.
func (w *Writer) dir(p string) (*node, error) {
	if p == "." {
		return w.root, nil
	}
	if n, ok := w.nodes[p]; ok {
		if n.typ() != rootfs.TypeDir {
			return nil, fmt.Errorf("parent %q is a %v, not a directory", p, n.typ())
		}
		return n, nil
	}
	if len(path.Base(p)) > maxNameLen {
		return nil, fmt.Errorf("directory %q: name longer than %d bytes", p, maxNameLen)
	}
	parent, err := w.dir(path.Dir(p))
	if err != nil {
		return nil, err
	}
	n := w.implicitDir(path.Base(p), parent)
	parent.dir.children = append(parent.dir.children, n)
	w.nodes[p] = n
	return n, nil
}

// hardlink is a hardlink entry waiting for Close to resolve its target.
type hardlink struct {
	path string
	n    *node
}

// resolveLinks points every hardlink at its final target and counts
// links. Chains (a hardlink to a hardlink) are followed.
func (w *Writer) resolveLinks() error {
	for _, h := range w.hardlinks {
		t, err := w.linkTarget(h)
		if err != nil {
			return err
		}
		h.n.link = t
		t.nlink++
	}
	return nil
}

func (w *Writer) linkTarget(h hardlink) (*node, error) {
	cur := h.n
	for range len(w.hardlinks) + 1 {
		t, ok := w.nodes[cur.target]
		if !ok {
			return nil, fmt.Errorf("hardlink %q points to %q, which is not in the image", h.path, cur.target)
		}
		switch t.typ() {
		case rootfs.TypeHardlink:
			cur = t
			continue
		case rootfs.TypeDir:
			return nil, fmt.Errorf("hardlink %q points to directory %q", h.path, cur.target)
		}
		return t, nil
	}
	return nil, fmt.Errorf("hardlink %q: loop of hardlinks through %q", h.path, h.n.target)
}

// inode returns the node that owns the inode n's directory entry refers to.
func inode(n *node) *node {
	if n.typ() == rootfs.TypeHardlink {
		return n.link
	}
	return n
}

// postorder sorts every directory, numbers the inodes in the order they
// are written and returns them in that order: each directory's entries
// (recursively) before the directory itself, a hardlinked inode where it
// is first met, the root last.
func postorder(root *node) []*node {
	var order []*node
	var walk func(d *node)
	walk = func(d *node) {
		sort.Slice(d.dir.children, func(i, j int) bool { return d.dir.children[i].name < d.dir.children[j].name })
		for _, c := range d.dir.children {
			in := inode(c)
			switch {
			case in.typ() == rootfs.TypeDir:
				walk(in)
			case in.ino == 0:
				order = append(order, in)
				in.ino = uint32(len(order))
			}
		}
		order = append(order, d)
		d.ino = uint32(len(order))
	}
	walk(root)
	return order
}
