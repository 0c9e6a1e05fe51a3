package rootfs

import (
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"time"
)

// Type is the kind of an Entry.
type Type int

// Entry types. The zero value is TypeUnknown so that a forgotten field is an
// error, not a regular file.
const (
	TypeUnknown Type = iota
	TypeDir
	TypeReg
	TypeSymlink
	TypeHardlink
	TypeChar
	TypeBlock
	TypeFIFO
	TypeSocket
)

var typeNames = [...]string{"unknown", "directory", "regular file", "symlink", "hardlink", "character device", "block device", "fifo", "socket"}

func (t Type) String() string {
	if t < 0 || int(t) >= len(typeNames) {
		return fmt.Sprintf("type(%d)", int(t))
	}
	return typeNames[t]
}

// Mode bits beyond the 9 permission bits, with their traditional Unix values.
const (
	ModeSetuid = 0o4000
	ModeSetgid = 0o2000
	ModeSticky = 0o1000
	ModePerm   = 0o7777
)

// Entry is one validated item of a root filesystem.
//
// Path is slash-separated, relative to the root, cleaned, and never contains
// ".." or a leading slash; the root directory itself is ".". Parents may be
// delivered after their children: writers create missing parents as
// directories (0755, root:root, the writer's default time) and take the
// metadata of a directory entry when it arrives later.
type Entry struct {
	Path string
	Type Type
	// Mode holds the permission bits plus ModeSetuid/ModeSetgid/ModeSticky
	// (Unix values, not io/fs values).
	Mode     uint32
	UID, GID uint32
	// Size is the length of a regular file's data; zero for anything else.
	Size    int64
	ModTime time.Time
	// Linkname is the target of a symlink (verbatim, may be absolute or
	// relative) or the Path of a hardlink's target (cleaned like Path).
	Linkname string
	// Devmajor and Devminor are set for TypeChar and TypeBlock.
	Devmajor, Devminor uint32
	// Xattrs maps full attribute names ("security.capability",
	// "user.foo", "trusted.x") to raw values.
	Xattrs map[string][]byte
}

// XattrNames returns the attribute names in sorted order, so that writers
// lay them out deterministically.
func (e *Entry) XattrNames() []string {
	names := make([]string, 0, len(e.Xattrs))
	for k := range e.Xattrs {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// Name returns the last element of Path.
func (e *Entry) Name() string { return path.Base(e.Path) }

// Dir returns the parent directory of Path ("." for top-level entries).
func (e *Entry) Dir() string { return path.Dir(e.Path) }

// CleanPath turns a tar entry name into an Entry path. It reports ok=false
// when the name escapes the root (a ".." that climbs above it) or is empty.
// Absolute names are taken relative to the root, as tar does.
func CleanPath(name string) (p string, ok bool) {
	if name == "" {
		return "", false
	}
	// Reject any ".." element outright: a name that would be cleaned back
	// inside the root ("a/../b") is still a sign of a crafted archive.
	for _, el := range strings.Split(name, "/") {
		if el == ".." {
			return "", false
		}
	}
	p = path.Clean("/" + name)
	if p == "/" {
		return ".", true
	}
	return p[1:], true
}

// Sink receives a stream of entries and writes them somewhere (a filesystem
// image, a counter, a filter).
type Sink interface {
	// Add records e. For a regular file it returns a writer that must be
	// given exactly e.Size bytes and then closed; for every other type it
	// returns a nil writer. Add must not retain e.Xattrs' backing arrays
	// beyond the call unless it copies them.
	Add(e *Entry) (io.WriteCloser, error)
}
