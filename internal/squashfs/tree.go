package squashfs

import (
	"fmt"
	"path"
	"strings"

	"github.com/elemental-suite/elemental/internal/rootfs"
)

// maxNameLen is SQUASHFS_NAME_LEN.
const maxNameLen = 256

// noXattr is the xattr index of an inode without xattrs.
const noXattr = 0xFFFFFFFF

// dirNode is a directory of the image being built. Directories stay in
// memory (they are a small share of the entries); every other entry is a
// record in the spill file and a child of its directory.
type dirNode struct {
	name     string // a copy, so that no caller's path is kept alive
	children []child
	ref      uint64 // inode reference, filled in Close
	parent   uint32 // index in Writer.dirs; the root's is 0
	ino      uint32 // inode number, filled in Close
	uid, gid uint32
	mtime    uint32
	xattr    uint32
	mode     uint16
	explicit bool // an entry for it arrived (directories may be implicit)
}

// newDir appends a directory with the defaults of an implicit one and
// returns its index.
func (w *Writer) newDir(name string, parent uint32) (uint32, error) {
	i := uint32(len(w.dirs))
	if child(i)&dirBit != 0 {
		return 0, fmt.Errorf("more than %d directories", dirBit)
	}
	w.dirs = append(w.dirs, dirNode{name: name, parent: parent, mode: 0o755, mtime: unixTime(w.opts.Time), xattr: noXattr})
	if i != 0 {
		w.dirs[parent].children = append(w.dirs[parent].children, dirChild(i))
	}
	return i, nil
}

// setDirMeta copies a directory entry's metadata into d.
func (w *Writer) setDirMeta(d *dirNode, e *rootfs.Entry) error {
	x, err := w.xattrs.add(e)
	if err != nil {
		return fmt.Errorf("entry %q: %w", e.Path, err)
	}
	d.mode = uint16(e.Mode & rootfs.ModePerm)
	d.uid, d.gid = e.UID, e.GID
	d.mtime = unixTime(e.ModTime)
	d.xattr = x
	d.explicit = true
	return nil
}

// insert places e in the tree. A directory is complete when it returns
// done; for any other entry it returns the index of its parent
// directory. Duplicate names among the entries of a directory that are
// not directories are found in Close, where the names are read back.
func (w *Writer) insert(e *rootfs.Entry) (parent uint32, done bool, err error) {
	if e.Path == "." {
		if e.Type != rootfs.TypeDir {
			return 0, false, fmt.Errorf("root entry \".\" is a %v, not a directory", e.Type)
		}
		if w.dirs[0].explicit {
			return 0, false, fmt.Errorf("duplicate entry %q", e.Path)
		}
		return 0, true, w.setDirMeta(&w.dirs[0], e)
	}
	if strings.IndexByte(e.Path, 0) >= 0 {
		return 0, false, fmt.Errorf("name %q contains a NUL byte", e.Path)
	}
	if len(e.Name()) > maxNameLen {
		return 0, false, fmt.Errorf("entry %q: name longer than %d bytes", e.Path, maxNameLen)
	}
	if i, ok := w.dirIdx[e.Path]; ok {
		if w.dirs[i].explicit {
			return 0, false, fmt.Errorf("duplicate entry %q", e.Path)
		}
		if e.Type != rootfs.TypeDir {
			return 0, false, fmt.Errorf("entry %q is a %v but earlier entries are inside it", e.Path, e.Type)
		}
		return 0, true, w.setDirMeta(&w.dirs[i], e)
	}
	parent, err = w.dir(e.Dir())
	if err != nil {
		return 0, false, fmt.Errorf("entry %q: %w", e.Path, err)
	}
	if e.Type != rootfs.TypeDir {
		return parent, false, nil
	}
	p := strings.Clone(e.Path)
	i, err := w.newDir(path.Base(p), parent)
	if err != nil {
		return 0, false, err
	}
	w.dirIdx[p] = i
	return 0, true, w.setDirMeta(&w.dirs[i], e)
}

// dir returns the directory at p, creating it and its parents if needed.
func (w *Writer) dir(p string) (uint32, error) {
	if p == "." {
		return 0, nil
	}
	if i, ok := w.dirIdx[p]; ok {
		return i, nil
	}
	if len(path.Base(p)) > maxNameLen {
		return 0, fmt.Errorf("directory %q: name longer than %d bytes", p, maxNameLen)
	}
	parent, err := w.dir(path.Dir(p))
	if err != nil {
		return 0, err
	}
	p = strings.Clone(p)
	i, err := w.newDir(path.Base(p), parent)
	if err != nil {
		return 0, err
	}
	w.dirIdx[p] = i
	return i, nil
}

// dirPath returns the path of directory d, for error messages.
func (w *Writer) dirPath(d uint32) string {
	if d == 0 {
		return "."
	}
	var parts []string
	for ; d != 0; d = w.dirs[d].parent {
		parts = append(parts, w.dirs[d].name)
	}
	var b strings.Builder
	for i := len(parts) - 1; i >= 0; i-- {
		b.WriteString(parts[i])
		if i > 0 {
			b.WriteByte('/')
		}
	}
	return b.String()
}

// joinPath returns the path of the entry name in directory d.
func (w *Writer) joinPath(d uint32, name []byte) string {
	if d == 0 {
		return string(name)
	}
	return w.dirPath(d) + "/" + string(name)
}
