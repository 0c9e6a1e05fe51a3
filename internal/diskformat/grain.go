package diskformat

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"iter"
	"os"
	"sync"

	"github.com/klauspost/compress/zlib"
)

// maxGrainBatch bounds the grains in flight (each holds its raw and
// compressed 64 KiB), whatever the worker count.
const maxGrainBatch = 128

// grainSlot is one grain in flight: its guest offset, the raw bytes and
// the grain record (marker plus compressed data, sector padded).
type grainSlot struct {
	off int64
	raw []byte
	rec bytes.Buffer
	zw  *zlib.Writer
	err error
}

// compress builds the grain record: lba (sectors), compressed size, zlib
// stream, zero padding to a sector.
func (g *grainSlot) compress(level int) {
	g.rec.Reset()
	g.rec.Write(make([]byte, 12))
	if g.zw == nil {
		g.zw, g.err = zlib.NewWriterLevel(&g.rec, level)
		if g.err != nil {
			return
		}
	} else {
		g.zw.Reset(&g.rec)
	}
	if _, g.err = g.zw.Write(g.raw); g.err != nil {
		return
	}
	if g.err = g.zw.Close(); g.err != nil {
		return
	}
	b := g.rec.Bytes()
	binary.LittleEndian.PutUint64(b[0:], uint64(g.off/512))
	binary.LittleEndian.PutUint32(b[8:], uint32(len(b)-12))
	g.rec.Write(make([]byte, alignUp(int64(len(b)), 512)-int64(len(b))))
}

// compressGrains reads, in guest order, every VMDK grain that holds
// non-zero data, compresses batches of them on up to workers goroutines
// and hands each record to emit in guest order.
func compressGrains(ctx context.Context, f *os.File, exts []Extent, level, workers int,
	emit func(off int64, rec []byte) error) error {
	r := newChunkReader(f, exts)
	slots := make([]*grainSlot, min(workers*4, maxGrainBatch))
	for i := range slots {
		slots[i] = &grainSlot{raw: make([]byte, vmdkGrain)}
	}
	next, stop := iter.Pull(dataChunks(exts, vmdkGrain))
	defer stop()
	for done := false; !done; {
		if err := ctx.Err(); err != nil {
			return err
		}
		n := 0
		for n < len(slots) {
			off, ok := next()
			if !ok {
				done = true
				break
			}
			if err := r.fill(off, slots[n].raw); err != nil {
				return err
			}
			if !isZero(slots[n].raw) {
				slots[n].off = off
				n++
			}
		}
		compressAll(slots[:n], level, workers)
		for _, g := range slots[:n] {
			if g.err != nil {
				return fmt.Errorf("compressing grain at %d: %w", g.off, g.err)
			}
			if err := emit(g.off, g.rec.Bytes()); err != nil {
				return err
			}
		}
	}
	return nil
}

// compressAll compresses slots on up to workers goroutines.
func compressAll(slots []*grainSlot, level, workers int) {
	workers = min(workers, len(slots))
	if workers <= 1 {
		for _, g := range slots {
			g.compress(level)
		}
		return
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(slots); i += workers {
				slots[i].compress(level)
			}
		})
	}
	wg.Wait()
}
