package fat

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/elemental-suite/elemental/internal/rootfs"
)

// Errors callers can test with errors.Is.
var (
	// ErrUnsupported is wrapped when an entry's type cannot exist on FAT
	// (symlinks, hardlinks, devices, fifos, sockets).
	ErrUnsupported = errors.New("not representable on FAT")
	// ErrNoSpace is wrapped when the data area or the root directory is
	// full.
	ErrNoSpace = errors.New("no space left on FAT filesystem")
	// ErrExists is wrapped when a name is added twice to a directory (FAT
	// names are case-insensitive).
	ErrExists = errors.New("name already exists")
)

// Options describes the filesystem New creates.
type Options struct {
	// Label is the volume label (at most 11 characters, stored upper-case).
	// It goes into the boot sector and, when not empty, into a volume-label
	// entry in the root directory, as mkfs.fat -n does.
	Label string
	// VolumeID is the volume serial number.
	VolumeID uint32
	// Time stamps the label and the directories that are only implied by
	// their children, and entries whose ModTime is zero. Times before 1980
	// are stored as 1980-01-01.
	Time time.Time
	// FATType is 12, 16 or 32, or 0 to choose like mkfs.fat: FAT32 from
	// 512 MiB, else FAT12 when its clusters suffice and FAT16 otherwise.
	FATType int
	// HiddenSectors is the number of sectors before the filesystem on its
	// disk (the partition's first LBA); it is only recorded in the BPB.
	HiddenSectors uint32
}

// Writer builds a FAT filesystem from a stream of entries. It implements
// rootfs.Sink. A Writer is not safe for concurrent use.
type Writer struct {
	w      io.WriterAt
	g      geometry
	opts   Options
	label  shortLabel
	fat    []uint32
	next   uint32 // lowest cluster that may be free
	root   *node
	open   int // file writers not yet closed
	closed bool
}

var _ rootfs.Sink = (*Writer)(nil)

// node is a file or directory in the tree being built.
type node struct {
	name     string
	short    shortName
	lfn      bool
	dir      bool
	mtime    time.Time
	size     uint32
	chain    []uint32 // clusters, in order
	parent   *node
	children []*node
	byName   map[string]*node // by upper-cased long name
	shorts   map[shortName]bool
}

func newDir(name string, parent *node, t time.Time) *node {
	return &node{name: name, dir: true, mtime: t, parent: parent,
		byName: map[string]*node{}, shorts: map[shortName]bool{}}
}

func (n *node) first() uint32 {
	if len(n.chain) == 0 {
		return 0
	}
	return n.chain[0]
}

// New prepares a FAT filesystem of size bytes (rounded down to 512-byte
// sectors) on w, from offset 0. Nothing but file data is written before
// Close.
func New(w io.WriterAt, size int64, opts Options) (*Writer, error) {
	label, err := parseLabel(opts.Label)
	if err != nil {
		return nil, fmt.Errorf("creating FAT filesystem: %w", err)
	}
	g, err := planGeometry(size, opts.FATType)
	if err != nil {
		return nil, fmt.Errorf("creating FAT filesystem of %d bytes: %w", size, err)
	}
	fw := &Writer{w: w, g: g, opts: opts, label: label,
		fat: make([]uint32, g.clusters+2), next: 2, root: newDir("", nil, opts.Time)}
	eoc := endOfChain(g.fatType)
	fw.fat[0] = eoc&^0xFF | 0xF8
	fw.fat[1] = eoc
	if g.fatType == 32 {
		fw.fat[fat32RootClus] = eoc
		fw.root.chain = []uint32{fat32RootClus}
		fw.next = fat32RootClus + 1
	}
	return fw, nil
}

// Add records e. Directories and regular files are supported; parents
// missing from the stream are created. For a regular file the returned
// writer must receive exactly e.Size bytes, which go straight to the file's
// clusters, and then be closed.
func (w *Writer) Add(e *rootfs.Entry) (io.WriteCloser, error) {
	if w.closed {
		return nil, fmt.Errorf("adding %s: writer is closed", e.Path)
	}
	if e.Type != rootfs.TypeDir && e.Type != rootfs.TypeReg {
		return nil, fmt.Errorf("adding %s: %s is %w", e.Path, e.Type, ErrUnsupported)
	}
	mtime := e.ModTime
	if mtime.IsZero() {
		mtime = w.opts.Time
	}
	if e.Path == "." {
		if e.Type != rootfs.TypeDir {
			return nil, fmt.Errorf("adding %s: the root must be a directory", e.Path)
		}
		w.root.mtime = mtime
		return nil, nil
	}
	parent, err := w.mkdirAll(e.Dir())
	if err != nil {
		return nil, fmt.Errorf("adding %s: %w", e.Path, err)
	}
	name := e.Name()
	if old := parent.byName[strings.ToUpper(name)]; old != nil {
		if old.dir && e.Type == rootfs.TypeDir && old.name == name {
			old.mtime = mtime // a directory that was implied earlier
			return nil, nil
		}
		return nil, fmt.Errorf("adding %s: %w (as %q)", e.Path, ErrExists, old.name)
	}
	if e.Type == rootfs.TypeDir {
		_, err := w.addChild(parent, newDir(name, parent, mtime))
		if err != nil {
			return nil, fmt.Errorf("adding %s: %w", e.Path, err)
		}
		return nil, nil
	}
	fw, err := w.addFile(parent, name, e.Size, mtime)
	if err != nil {
		return nil, fmt.Errorf("adding %s: %w", e.Path, err)
	}
	fw.path = e.Path
	return fw, nil
}

// mkdirAll returns the directory at p, creating missing ones.
func (w *Writer) mkdirAll(p string) (*node, error) {
	dir := w.root
	if p == "." {
		return dir, nil
	}
	for _, el := range strings.Split(p, "/") {
		child := dir.byName[strings.ToUpper(el)]
		if child == nil {
			var err error
			if child, err = w.addChild(dir, newDir(el, dir, w.opts.Time)); err != nil {
				return nil, err
			}
		}
		if !child.dir {
			return nil, fmt.Errorf("parent %q is a file", child.name)
		}
		dir = child
	}
	return dir, nil
}

// addChild names n and links it under dir.
func (w *Writer) addChild(dir, n *node) (*node, error) {
	if err := checkName(n.name); err != nil {
		return nil, err
	}
	sn, lfn, err := makeShortName(n.name, func(s shortName) bool { return dir.shorts[s] })
	if err != nil {
		return nil, fmt.Errorf("name %q: %w", n.name, err)
	}
	n.short, n.lfn, n.parent = sn, lfn, dir
	dir.shorts[sn] = true
	dir.byName[strings.ToUpper(n.name)] = n
	dir.children = append(dir.children, n)
	return n, nil
}

func (w *Writer) addFile(dir *node, name string, size int64, mtime time.Time) (*fileWriter, error) {
	if size < 0 || size > 0xFFFFFFFF {
		return nil, fmt.Errorf("size %d does not fit FAT's 4 GiB limit", size)
	}
	n := (size + w.g.clusterSize - 1) / w.g.clusterSize
	chain, err := w.alloc(n)
	if err != nil {
		return nil, err
	}
	f := &node{name: name, mtime: mtime, size: uint32(size), chain: chain}
	if _, err := w.addChild(dir, f); err != nil {
		w.free(chain)
		return nil, err
	}
	w.open++
	return &fileWriter{fs: w, off: w.clusterOffset(f.first()), size: size}, nil
}

// alloc takes n contiguous clusters from w.next and chains them.
func (w *Writer) alloc(n int64) ([]uint32, error) {
	if n == 0 {
		return nil, nil
	}
	if int64(w.next)+n > int64(len(w.fat)) {
		return nil, fmt.Errorf("%w: %d clusters of %d bytes needed, %d free", ErrNoSpace, n, w.g.clusterSize, int64(len(w.fat))-int64(w.next))
	}
	chain := make([]uint32, n)
	for i := range chain {
		c := w.next + uint32(i)
		chain[i] = c
		w.fat[c] = c + 1
	}
	w.fat[chain[n-1]] = endOfChain(w.g.fatType)
	w.next += uint32(n)
	return chain, nil
}

// free gives back the clusters of the most recent alloc.
func (w *Writer) free(chain []uint32) {
	for _, c := range chain {
		w.fat[c] = 0
	}
	w.next -= uint32(len(chain))
}

func (w *Writer) clusterOffset(c uint32) int64 {
	return (w.g.dataStart + int64(c-2)*w.g.secPerClus) * sectorSize
}

// fileWriter streams one file's data to its contiguous clusters.
type fileWriter struct {
	fs            *Writer
	path          string
	off           int64
	size, written int64
	closed        bool
}

func (f *fileWriter) Write(p []byte) (int, error) {
	if f.closed {
		return 0, fmt.Errorf("writing %s: file is closed", f.path)
	}
	if len(p) == 0 {
		// An empty file has no cluster, hence no valid offset.
		return 0, nil
	}
	short := false
	if rest := f.size - f.written; int64(len(p)) > rest {
		p, short = p[:rest], true
	}
	n, err := f.fs.w.WriteAt(p, f.off+f.written)
	f.written += int64(n)
	if err != nil {
		return n, fmt.Errorf("writing %s: %w", f.path, err)
	}
	if short {
		return n, fmt.Errorf("writing %s: more than the declared %d bytes", f.path, f.size)
	}
	return n, nil
}

// Close checks that the declared size was written and zeroes the rest of
// the last cluster, so that output does not depend on what w held before.
func (f *fileWriter) Close() error {
	if f.closed {
		return nil
	}
	f.closed = true
	f.fs.open--
	if f.written != f.size {
		return fmt.Errorf("closing %s: %d of %d bytes written", f.path, f.written, f.size)
	}
	if tail := f.size % f.fs.g.clusterSize; tail != 0 {
		if _, err := f.fs.w.WriteAt(make([]byte, f.fs.g.clusterSize-tail), f.off+f.size); err != nil {
			return fmt.Errorf("padding %s: %w", f.path, err)
		}
	}
	return nil
}
