package rootfs

import "io"

// Stats summarises a stream of entries. The installer gathers it in a
// header-only first pass so that every partition and image can be sized
// before a single byte is written; writers turn it into a size with their
// own knowledge of overheads.
type Stats struct {
	Entries   int64 // every entry, directories included
	Dirs      int64
	Files     int64 // regular files (hardlinks excluded)
	Hardlinks int64
	Symlinks  int64
	Others    int64 // devices, fifos, sockets
	// DataBytes is the sum of regular file sizes.
	DataBytes int64
	// DataBlocks is the sum over regular files of ceil(size/4096), minus
	// the 4 KiB blocks that are all zeros (the holes a writer leaves out).
	DataBlocks int64
	// NameBytes is the sum of the lengths of every entry's base name.
	NameBytes int64
	// SymlinkBytes is the sum of symlink target lengths.
	SymlinkBytes int64
	// XattrBytes is the sum of xattr name and value lengths.
	XattrBytes int64
}

// Counter is a Sink that only counts.
type Counter struct{ Stats Stats }

// Add implements Sink.
func (c *Counter) Add(e *Entry) (io.WriteCloser, error) {
	s := &c.Stats
	s.Entries++
	s.NameBytes += int64(len(e.Name()))
	for k, v := range e.Xattrs {
		s.XattrBytes += int64(len(k) + len(v))
	}
	switch e.Type {
	case TypeDir:
		s.Dirs++
	case TypeReg:
		s.Files++
		s.DataBytes += e.Size
		s.DataBlocks += (e.Size + 4095) / 4096
		return &holeCounter{stats: s}, nil
	case TypeHardlink:
		s.Hardlinks++
	case TypeSymlink:
		s.Symlinks++
		s.SymlinkBytes += int64(len(e.Linkname))
	default:
		s.Others++
	}
	return nil, nil
}

// holeCounter takes the all-zero 4 KiB blocks of a file off DataBlocks,
// so a sparse file is sized by its data, not its length.
type holeCounter struct {
	stats *Stats
	buf   [4096]byte
	n     int
}

func (h *holeCounter) Write(p []byte) (int, error) {
	total := len(p)
	for len(p) > 0 {
		c := copy(h.buf[h.n:], p)
		h.n += c
		p = p[c:]
		if h.n == len(h.buf) {
			h.block()
		}
	}
	return total, nil
}

func (h *holeCounter) block() {
	if allZero(h.buf[:h.n]) {
		h.stats.DataBlocks--
	}
	h.n = 0
}

func (h *holeCounter) Close() error {
	if h.n > 0 {
		h.block()
	}
	return nil
}

func allZero(b []byte) bool {
	for len(b) >= 8 {
		if b[0]|b[1]|b[2]|b[3]|b[4]|b[5]|b[6]|b[7] != 0 {
			return false
		}
		b = b[8:]
	}
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// Add returns the sum of s and o, for sizing a filesystem that holds both.
func (s Stats) Add(o Stats) Stats {
	return Stats{
		Entries: s.Entries + o.Entries, Dirs: s.Dirs + o.Dirs, Files: s.Files + o.Files,
		Hardlinks: s.Hardlinks + o.Hardlinks, Symlinks: s.Symlinks + o.Symlinks, Others: s.Others + o.Others,
		DataBytes: s.DataBytes + o.DataBytes, DataBlocks: s.DataBlocks + o.DataBlocks,
		NameBytes: s.NameBytes + o.NameBytes, SymlinkBytes: s.SymlinkBytes + o.SymlinkBytes,
		XattrBytes: s.XattrBytes + o.XattrBytes,
	}
}
