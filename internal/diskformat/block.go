package diskformat

import (
	"context"
	"errors"
	"fmt"
	"os"
)

// Block is one item of a block stream: blockSize bytes of the raw disk at
// Offset (a multiple of the block size).
type Block struct {
	Offset int64
	Data   []byte
}

// Blocks calls fn, in increasing offset order, for every blockSize-aligned
// block of f that holds data: blocks lying wholly in holes are skipped, and
// so are blocks whose bytes are all zero. Every Data has exactly blockSize
// bytes; the last block is zero-padded past the end of the file. Only the
// data extents are read, each byte once. Data is reused after fn returns,
// so fn must copy what it keeps. An error from fn stops the walk and is
// returned as is.
func Blocks(ctx context.Context, f *os.File, blockSize int64, fn func(Block) error) error {
	if blockSize <= 0 {
		return fmt.Errorf("streaming blocks of %s: block size %d: %w", f.Name(), blockSize, ErrInvalidOption)
	}
	exts, err := Extents(f)
	if err != nil {
		return err
	}
	return blocksOf(ctx, f, exts, blockSize, fn)
}

func blocksOf(ctx context.Context, f *os.File, exts []Extent, blockSize int64, fn func(Block) error) error {
	r := newChunkReader(f, exts)
	buf := make([]byte, blockSize)
	for off := range dataChunks(exts, blockSize) {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("streaming blocks of %s: %w", f.Name(), err)
		}
		if err := r.fill(off, buf); err != nil {
			return err
		}
		if isZero(buf) {
			continue
		}
		if err := fn(Block{Offset: off, Data: buf}); err != nil {
			return err
		}
	}
	return nil
}

// Sentinel errors.
var (
	// ErrNotRegular means the raw disk is not a regular file.
	ErrNotRegular = errors.New("not a regular file")
	// ErrInvalidOption means an Options field or argument is out of range.
	ErrInvalidOption = errors.New("invalid option")
	// ErrUnknownFormat means a format name or value is not one of the
	// supported formats.
	ErrUnknownFormat = errors.New("unknown disk format")
	// ErrTooLarge means the disk does not fit the target format's limits.
	ErrTooLarge = errors.New("disk too large for format")
)
