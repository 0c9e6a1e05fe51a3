package ext4

import (
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/elemental-suite/elemental/internal/rootfs"
)

// dir is a directory's in-memory state. Its entries ("." and ".."
// implied) are records in the temporary file, chained from last; only
// subdirectories are indexed, for path lookups.
type dir struct {
	parent  int64
	name    string           // name in the parent
	subdirs map[string]int64 // subdirectory inodes by name; nil when none
	last    int64            // offset of the newest record, -1 when empty
	creator string           // for an implicit directory: the path it was created for
}

func newDirState(parent int64, name string) *dir {
	return &dir{parent: parent, name: name, last: -1}
}

// pendingLink is a hardlink whose target is looked up in Close.
type pendingLink struct {
	off    int64 // its record
	path   string
	target string
}

// newInode takes the next inode number for the entry at p.
func (w *Writer) newInode(p string) (int64, error) {
	if w.next > w.lay.inodes() {
		return 0, fmt.Errorf("adding %q: out of inodes: %w", p, ErrNoSpace)
	}
	w.next++
	return w.next - 1, nil
}

// inode returns an inode kept in memory: a directory or the journal.
func (w *Writer) inode(ino int64) *inode { return w.mem[ino] }

// link records the entry name -> ino of type typ in directory parent.
func (w *Writer) link(parent int64, name string, ino int64, typ uint8) (int64, error) {
	d := w.inode(parent).dir
	off, err := w.spill.addRecord(d.last, parent, ino, typ, name)
	if err != nil {
		return 0, err
	}
	d.last = off
	return off, nil
}

// newDir creates the implicit directory name in parent for the entry at
// creator.
func (w *Writer) newDir(parent int64, name string, creator string) (int64, error) {
	in := &inode{mode: sIFDIR | 0o755}
	in.setTime(w.opts.Time)
	return w.newDirWith(parent, name, in, creator)
}

// newDirWith creates directory name in parent with in's metadata for the
// entry at p.
func (w *Writer) newDirWith(parent int64, name string, in *inode, p string) (int64, error) {
	ino, err := w.newInode(p)
	if err != nil {
		return 0, err
	}
	in.dir = newDirState(parent, name)
	if !in.explicit {
		in.dir.creator = p
	}
	w.mem[ino] = in
	w.dirs = append(w.dirs, ino)
	pd := w.inode(parent).dir
	if pd.subdirs == nil {
		pd.subdirs = map[string]int64{}
	}
	pd.subdirs[name] = ino
	if _, err := w.link(parent, name, ino, 2); err != nil {
		return 0, fmt.Errorf("adding %q: %w", p, err)
	}
	return ino, nil
}

// dirFor returns the directory at p, creating it and its parents as
// needed for the entry at creator.
func (w *Writer) dirFor(p, creator string) (int64, error) {
	if p == "." {
		return rootIno, nil
	}
	parent, err := w.dirFor(path.Dir(p), creator)
	if err != nil {
		return 0, err
	}
	name := path.Base(p)
	if ino, ok := w.inode(parent).dir.subdirs[name]; ok {
		return ino, nil
	}
	return w.newDir(parent, name, creator)
}

// dirPath is the path of directory ino, for messages.
func (w *Writer) dirPath(ino int64) string {
	if ino == rootIno {
		return "."
	}
	var parts []string
	for ino != rootIno {
		d := w.inode(ino).dir
		parts = append(parts, d.name)
		ino = d.parent
	}
	for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
		parts[i], parts[j] = parts[j], parts[i]
	}
	return strings.Join(parts, "/")
}

// childPath is the path of name in directory ino, for messages.
func (w *Writer) childPath(ino int64, name string) string {
	if ino == rootIno {
		return name
	}
	return w.dirPath(ino) + "/" + name
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

// addRoot takes the metadata of the root directory from e.
func (w *Writer) addRoot(e *rootfs.Entry) (int64, *inode, error) {
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

// add records e under w.mu and returns the inode it created, if any. A
// regular file's inode is returned unfinished, for its writer; every
// other non-directory inode is finished here. Names that clash with an
// earlier directory are rejected here; other clashes, which would need an
// index of every name, are found by Close.
func (w *Writer) add(e *rootfs.Entry) (int64, *inode, error) {
	if err := checkName(e); err != nil {
		return 0, nil, err
	}
	typ, ok := typeBits[e.Type]
	if !ok && e.Type != rootfs.TypeHardlink {
		return 0, nil, fmt.Errorf("adding %q: unsupported type %v", e.Path, e.Type)
	}
	if e.Path == "." {
		return w.addRoot(e)
	}
	parent, err := w.dirFor(e.Dir(), e.Path)
	if err != nil {
		return 0, nil, fmt.Errorf("adding %q: %w", e.Path, err)
	}
	if ino, ok := w.inode(parent).dir.subdirs[e.Name()]; ok {
		in := w.inode(ino)
		if e.Type != rootfs.TypeDir || in.explicit {
			return 0, nil, fmt.Errorf("duplicate entry %q", e.Path)
		}
		in.explicit = true
		in.dir.creator = ""
		return ino, in, w.setMeta(in, e, sIFDIR)
	}
	if e.Type == rootfs.TypeHardlink {
		off, err := w.link(parent, e.Name(), 0, 0)
		if err != nil {
			return 0, nil, fmt.Errorf("adding %q: %w", e.Path, err)
		}
		w.pending = append(w.pending, pendingLink{off, e.Path, e.Linkname})
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
	if e.Type == rootfs.TypeDir {
		in.explicit = true
		ino, err := w.newDirWith(parent, e.Name(), in, e.Path)
		return ino, in, err
	}
	return w.addNonDir(parent, in, e)
}

// addNonDir gives in an inode number and a directory entry, and finishes
// it unless it is a regular file.
func (w *Writer) addNonDir(parent int64, in *inode, e *rootfs.Entry) (int64, *inode, error) {
	ino, err := w.newInode(e.Path)
	if err != nil {
		return 0, nil, err
	}
	if _, err := w.link(parent, e.Name(), ino, fileType(in.mode)); err != nil {
		return 0, nil, fmt.Errorf("adding %q: %w", e.Path, err)
	}
	switch e.Type {
	case rootfs.TypeReg:
		in.size = e.Size
		return ino, in, nil
	case rootfs.TypeChar, rootfs.TypeBlock:
		encodeDev(in.block[:], e.Devmajor, e.Devminor)
	case rootfs.TypeSymlink:
		if err := w.addSymlink(in, e); err != nil {
			return 0, nil, err
		}
	}
	return ino, in, w.finish(ino, in, e.Path)
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
