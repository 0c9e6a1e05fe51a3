package squashfs

import (
	"fmt"
	"runtime"
	"time"

	"github.com/elemental-suite/elemental/internal/rootfs"
)

// Compression selects the compressor of data and metadata blocks.
type Compression int

// Compressors GRUB and the kernel can read. The zero value,
// CompressionUnknown, means Gzip when given in Options.
const (
	CompressionUnknown Compression = iota
	Gzip
	XZ
)

func (c Compression) String() string {
	switch c {
	case CompressionUnknown:
		return "unknown"
	case Gzip:
		return "gzip"
	case XZ:
		return "xz"
	}
	return fmt.Sprintf("compression(%d)", int(c))
}

// id is the compressor id stored in the superblock.
func (c Compression) id() uint16 {
	if c == XZ {
		return 4
	}
	return 1 // gzip (zlib)
}

// DefaultBlockSize is the data block size used when Options.BlockSize is
// zero; it matches upstream elemental's "mksquashfs -b 1024k".
const DefaultBlockSize = 1 << 20

const (
	minBlockSize = 4 << 10
	maxBlockSize = 1 << 20
)

// Options configure a Writer.
type Options struct {
	// Compression defaults to Gzip when zero (CompressionUnknown).
	Compression Compression
	// BlockSize is the data block size in bytes: a power of two from
	// 4 KiB to 1 MiB. Zero means DefaultBlockSize.
	BlockSize int
	// Time is the superblock's creation time and the modification time
	// of directories created implicitly. The zero Time is stored as the
	// Unix epoch.
	Time time.Time
	// Workers is the number of parallel compression workers; zero or
	// less means runtime.NumCPU(). The output does not depend on it.
	Workers int
	// TempDir is where the Writer keeps its spill file of entries
	// (about 70 bytes per entry, plus 4 per full data block, plus the
	// directory table in Close) until Close; empty means os.TempDir().
	// The file is unlinked as soon as it is created, or else removed by
	// Close.
	TempDir string
}

// withDefaults fills zero fields and validates the rest.
func (o Options) withDefaults() (Options, error) {
	switch o.Compression {
	case CompressionUnknown:
		o.Compression = Gzip
	case Gzip, XZ:
	default:
		return o, fmt.Errorf("squashfs options: unsupported compression %v", o.Compression)
	}
	if o.BlockSize == 0 {
		o.BlockSize = DefaultBlockSize
	}
	if o.BlockSize < minBlockSize || o.BlockSize > maxBlockSize || o.BlockSize&(o.BlockSize-1) != 0 {
		return o, fmt.Errorf("squashfs options: block size %d is not a power of two from 4 KiB to 1 MiB", o.BlockSize)
	}
	if o.Workers <= 0 {
		o.Workers = runtime.NumCPU()
	}
	return o, nil
}

// unixTime clamps t to the unsigned 32-bit seconds squashfs stores.
func unixTime(t time.Time) uint32 {
	if t.IsZero() {
		return 0
	}
	s := t.Unix()
	switch {
	case s < 0:
		return 0
	case s > 1<<32-1:
		return 1<<32 - 1
	}
	return uint32(s)
}

// MaxSize returns an upper bound on the size of an image (as Close
// returns it) holding a tree with these stats, assuming incompressible
// data and worst-case metadata, so that space can be reserved before
// writing. The stats must count every directory of the tree except,
// optionally, the root; parents created implicitly are not accounted for.
func MaxSize(s rootfs.Stats, opts Options) int64 {
	bs := int64(minBlockSize)
	if o, err := opts.withDefaults(); err == nil {
		bs = int64(o.BlockSize)
	}
	entries := s.Entries + 1 // the root may be implicit
	blocks := s.DataBytes/bs + s.Files
	dirTable := entries*(12+8) + s.NameBytes // a header per entry at worst
	dirIndex := (dirTable/metaSize + s.Dirs + 1) * (12 + maxNameLen)
	inodes := entries*56 + blocks*4 + s.SymlinkBytes + dirIndex // 56: extended file inode
	frags := (s.Files + 1) * 16                                 // at most a fragment block per file
	ids := min(2*entries+1, 1<<16) * 4
	xattrKV := 3 * s.XattrBytes // 8 bytes of header per pair of at least 6 bytes
	xattrIDs := entries * 16
	size := int64(superblockSize) + dataBound(s, bs) + 16
	for _, t := range []int64{inodes, dirTable, frags, ids, xattrKV, xattrIDs} {
		size += t + (t/metaSize+1)*(2+8) // block headers and index entries
	}
	return (size + imageAlignment - 1) / imageAlignment * imageAlignment
}

// dataBound bounds the bytes data blocks and fragments take. s.DataBlocks
// counts only the 4 KiB blocks holding data, so a sparse file is bounded by
// its data, not its length: an all-zero block is stored as a hole, and a
// block mixing data with zero pages always compresses (a zero page deflates
// to a few bytes), so it never takes more than its data plus the
// compressor's framing. Incompressible framing is bounded generously per
// block.
func dataBound(s rootfs.Stats, bs int64) int64 {
	blocks := s.DataBytes/bs + s.Files
	bound := s.DataBlocks*4096 + blocks*(256+bs/128)
	return min(bound, s.DataBytes+blocks*(256+bs/128))
}
