package aws

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/elemental-suite/elemental/internal/diskformat"
)

// Source is a disk to publish. The EBS direct path needs only Size and
// Blocks, so a source need not be a file; the S3 fallback also needs
// io.ReaderAt (parts are read at their offsets).
type Source interface {
	// Name names the disk in errors.
	Name() string
	// Size is the disk's size in bytes.
	Size() int64
	// Blocks calls fn for blockSize-aligned blocks of the disk, each at
	// most once and in any order; blocks it leaves out read as zeros, so
	// it should leave out holes and all-zero blocks. data holds blockSize
	// bytes (zero-padded past the end of the disk) and is valid only
	// during the call. An error from fn stops the walk and is returned.
	Blocks(ctx context.Context, blockSize int64, fn func(off int64, data []byte) error) error
}

// dataSizer is implemented by sources that know an upper bound of the
// bytes Blocks yields, for progress totals.
type dataSizer interface {
	DataSize() (int64, error)
}

// FileSource is a raw disk file, read extent by extent so the holes of a
// sparse file cost nothing (internal/diskformat.Blocks).
type FileSource struct {
	f    *os.File
	size int64
}

// OpenFile opens the raw disk at path as a Source; the caller closes it.
func OpenFile(path string) (*FileSource, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("opening raw disk: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("stating raw disk %s: %w", path, err)
	}
	return &FileSource{f: f, size: fi.Size()}, nil
}

// Close closes the file.
func (s *FileSource) Close() error { return s.f.Close() }

// Name is the file's path.
func (s *FileSource) Name() string { return s.f.Name() }

// Size is the file's size.
func (s *FileSource) Size() int64 { return s.size }

// ReadAt reads the file.
func (s *FileSource) ReadAt(p []byte, off int64) (int, error) { return s.f.ReadAt(p, off) }

// Blocks yields the blocks that hold data, in increasing offset order.
func (s *FileSource) Blocks(ctx context.Context, blockSize int64, fn func(off int64, data []byte) error) error {
	return diskformat.Blocks(ctx, s.f, blockSize, func(b diskformat.Block) error { return fn(b.Offset, b.Data) })
}

// DataSize is the number of bytes in BlockSize blocks that overlap a data
// extent of the file.
func (s *FileSource) DataSize() (int64, error) {
	exts, err := diskformat.Extents(s.f)
	if err != nil {
		return 0, err
	}
	var n, last int64 = 0, -1
	for _, e := range exts {
		if !e.Data {
			continue
		}
		first, end := e.Offset/BlockSize, (e.End()+BlockSize-1)/BlockSize
		if first <= last {
			first = last + 1
		}
		if end > first {
			n += end - first
			last = end - 1
		}
	}
	return n * BlockSize, nil
}

var _ io.ReaderAt = (*FileSource)(nil)
