package ext4

import (
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/elemental-suite/elemental/internal/rootfs"
)

// dir is a directory's entries in arrival order ("." and ".." implied).
type dir struct {
	parent int64
	ents   []dent
	index  map[string]int
}

type dent struct {
	name string
	ino  int64 // 0 until a hardlink is resolved
}

// pendingLink is a hardlink whose target is looked up in Close.
type pendingLink struct {
	dir    *dir
	idx    int
	path   string
	target string
}

func (d *dir) link(name string, ino int64) int {
	d.index[name] = len(d.ents)
	d.ents = append(d.ents, dent{name, ino})
	return len(d.ents) - 1
}

// newInode gives in the next inode number.
func (w *Writer) newInode(p string, in *inode) (int64, error) {
	if int64(len(w.inodes)) >= w.lay.inodes() {
		return 0, fmt.Errorf("adding %q: out of inodes: %w", p, ErrNoSpace)
	}
	w.inodes = append(w.inodes, in)
	return int64(len(w.inodes)), nil
}

func (w *Writer) inode(ino int64) *inode { return w.inodes[ino-1] }

// newDir creates an implicit directory named name in parent.
func (w *Writer) newDir(parent int64, name, p string) (int64, error) {
	in := &inode{}
	ino, err := w.newInode(p, in)
	if err != nil {
		return 0, err
	}
	in.mode = sIFDIR | 0o755
	in.setTime(w.opts.Time)
	in.dir = &dir{parent: parent, index: map[string]int{}}
	if parent != 0 {
		w.inode(parent).dir.link(name, ino)
	}
	return ino, nil
}

// dirFor returns the directory at p, creating it and its parents as needed.
func (w *Writer) dirFor(p string) (int64, error) {
	if p == "." {
		return rootIno, nil
	}
	parent, err := w.dirFor(path.Dir(p))
	if err != nil {
		return 0, err
	}
	name := path.Base(p)
	if i, ok := w.inode(parent).dir.index[name]; ok {
		ino := w.inode(parent).dir.ents[i].ino
		if ino == 0 || w.inode(ino).dir == nil {
			return 0, fmt.Errorf("parent %q is not a directory", p)
		}
		return ino, nil
	}
	return w.newDir(parent, name, p)
}

func checkName(e *rootfs.Entry) error {
	if e.Path == "." {
		return nil
	}
	if n := len(e.Name()); n > 255 || n == 0 {
		return fmt.Errorf("name of %q is %d bytes, want 1 to 255", e.Path, n)
	}
	if strings.IndexByte(e.Path, 0) >= 0 {
		return fmt.Errorf("name %q contains a NUL byte", e.Path)
	}
	return nil
}

// setMeta copies an entry's ownership, mode, time and attributes.
func (w *Writer) setMeta(in *inode, e *rootfs.Entry, typ uint16) error {
	in.mode = typ | uint16(e.Mode&rootfs.ModePerm)
	in.uid, in.gid = e.UID, e.GID
	t := e.ModTime
	if t.IsZero() {
		t = w.opts.Time
	}
	in.setTime(t)
	xs, err := parseXattrs(e)
	in.x = nil
	if len(xs) > 0 {
		in.x = &inodeXattrs{xattrs: xs}
	}
	return err
}

var typeBits = map[rootfs.Type]uint16{
	rootfs.TypeDir: sIFDIR, rootfs.TypeReg: sIFREG, rootfs.TypeSymlink: sIFLNK,
	rootfs.TypeChar: sIFCHR, rootfs.TypeBlock: sIFBLK, rootfs.TypeFIFO: sIFIFO, rootfs.TypeSocket: sIFSOCK,
}

// add records e under w.mu and returns the inode it created, if any.
func (w *Writer) add(e *rootfs.Entry) (int64, *inode, error) {
	if err := checkName(e); err != nil {
		return 0, nil, err
	}
	typ, ok := typeBits[e.Type]
	if !ok && e.Type != rootfs.TypeHardlink {
		return 0, nil, fmt.Errorf("adding %q: unsupported type %v", e.Path, e.Type)
	}
	if e.Path == "." {
		root := w.inode(rootIno)
		if e.Type != rootfs.TypeDir {
			return 0, nil, fmt.Errorf("root entry %q is a %v, not a directory", e.Path, e.Type)
		}
		if root.explicit {
			return 0, nil, fmt.Errorf("duplicate entry %q", e.Path)
		}
		root.explicit = true
		return rootIno, root, w.setMeta(root, e, sIFDIR)
	}
	parent, err := w.dirFor(e.Dir())
	if err != nil {
		return 0, nil, fmt.Errorf("adding %q: %w", e.Path, err)
	}
	d := w.inode(parent).dir
	if i, ok := d.index[e.Name()]; ok {
		ino := d.ents[i].ino
		if e.Type != rootfs.TypeDir || ino == 0 || w.inode(ino).dir == nil || w.inode(ino).explicit {
			return 0, nil, fmt.Errorf("duplicate entry %q", e.Path)
		}
		in := w.inode(ino)
		in.explicit = true
		return ino, in, w.setMeta(in, e, sIFDIR)
	}
	if e.Type == rootfs.TypeHardlink {
		idx := d.link(e.Name(), 0)
		w.pending = append(w.pending, pendingLink{d, idx, e.Path, e.Linkname})
		return 0, nil, nil
	}
	// Everything that can fail on bad input is checked before the inode
	// and its directory entry exist.
	in := &inode{links: 1}
	if err := w.setMeta(in, e, typ); err != nil {
		return 0, nil, err
	}
	if n := int64(len(e.Linkname)); e.Type == rootfs.TypeSymlink && (n == 0 || n >= w.lay.bs) {
		return 0, nil, fmt.Errorf("symlink %q: target length %d out of range", e.Path, n)
	}
	ino, err := w.newInode(e.Path, in)
	if err != nil {
		return 0, nil, err
	}
	d.link(e.Name(), ino)
	switch e.Type {
	case rootfs.TypeDir:
		in.explicit = true
		in.links = 0
		in.dir = &dir{parent: parent, index: map[string]int{}}
	case rootfs.TypeChar, rootfs.TypeBlock:
		encodeDev(in.block[:], e.Devmajor, e.Devminor)
	case rootfs.TypeSymlink:
		return ino, in, w.addSymlink(in, e)
	case rootfs.TypeReg:
		in.size = e.Size
	}
	return ino, in, nil
}

func (w *Writer) addSymlink(in *inode, e *rootfs.Entry) error {
	n := len(e.Linkname)
	in.size = int64(n)
	if n < 60 {
		copy(in.block[:], e.Linkname)
		return nil
	}
	got, ok := w.alloc.alloc(1)
	if !ok {
		return fmt.Errorf("symlink %q: %w", e.Path, ErrNoSpace)
	}
	b := make([]byte, w.lay.bs)
	copy(b, e.Linkname)
	in.addRun(0, got.start, 1)
	return w.writeBlocks(b, got.start)
}

// Add implements rootfs.Sink. For a regular file the returned writer must
// be given exactly e.Size bytes and closed.
func (w *Writer) Add(e *rootfs.Entry) (io.WriteCloser, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil, fmt.Errorf("adding %q: writer is closed", e.Path)
	}
	if e.Type == rootfs.TypeReg {
		if err := w.checkFileSize(e.Path, e.Size); err != nil {
			return nil, err
		}
	}
	ino, in, err := w.add(e)
	if err != nil {
		return nil, err
	}
	if e.Type != rootfs.TypeReg {
		return nil, nil
	}
	w.open++
	return &fileWriter{w: w, ino: ino, in: in, path: e.Path, size: e.Size}, nil
}

// checkFileSize rejects sizes the block map cannot address.
func (w *Writer) checkFileSize(p string, size int64) error {
	blocks := (size + w.lay.bs - 1) / w.lay.bs
	limit := int64(1) << 32
	if !w.opts.ext4() {
		q := w.lay.bs / 4
		limit = min(12+q+q*q+q*q*q, (1<<32-1)/(w.lay.bs/512))
	}
	if size < 0 || blocks > limit {
		return fmt.Errorf("file %q: size %d is too large for %v", p, size, w.opts.Kind)
	}
	return nil
}
