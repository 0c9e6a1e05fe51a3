package blockstream

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"sync"
)

// ErrRewrite is returned for a write into a block already handed on.
var ErrRewrite = errors.New("write into a block already handed on")

// DefaultMaxPartial bounds the blocks buffered at once when Options leaves
// it zero: 256 blocks of 512 KiB are 128 MiB, ten times what the
// installer's disks need.
const DefaultMaxPartial = 256

// EmitFunc receives one whole block: off is a multiple of the block size
// and data holds exactly one block (zero-filled past the end of the
// device), valid only during the call. Blocks come in no particular order,
// each at most once, and never concurrently. An error stops the assembler.
type EmitFunc func(off int64, data []byte) error

// Options tune an Assembler.
type Options struct {
	// MaxPartial is the most blocks that may be written in part at once
	// (default DefaultMaxPartial); one more is an error, not unbounded
	// memory.
	MaxPartial int
}

// Stats counts what an Assembler did.
type Stats struct {
	Emitted     int64 // blocks handed on
	ZeroSkipped int64 // complete or leftover blocks not handed on because every byte is zero
	AtClose     int64 // blocks handed on by Close (written in part only)
	PeakPartial int64 // most blocks buffered at once
	Written     int64 // bytes written through WriteAt
}

// Assembler is an io.WriterAt over a device of a fixed size that hands
// each block on once all its bytes have been written. It is safe for
// concurrent use.
type Assembler struct {
	size, bs int64
	emit     EmitFunc
	max      int

	mu      sync.Mutex
	partial map[int64]*partial
	done    []uint64 // bitmap of blocks handed on or skipped
	free    [][]byte
	stats   Stats
	err     error // sticky: the first emit error, or closed
	closed  bool

	emitMu sync.Mutex // one emit at a time
}

// partial is a block written in part: its bytes and the byte ranges of it
// written so far, sorted and merged.
type partial struct {
	buf     []byte
	covered []span
}

type span struct{ lo, hi int64 }

// New returns an Assembler for a device of size bytes cut into blocks of
// blockSize bytes.
func New(size, blockSize int64, emit EmitFunc, opts Options) (*Assembler, error) {
	if size <= 0 || blockSize <= 0 {
		return nil, fmt.Errorf("block assembler: size %d and block size %d must be positive", size, blockSize)
	}
	if opts.MaxPartial == 0 {
		opts.MaxPartial = DefaultMaxPartial
	}
	n := (size + blockSize - 1) / blockSize
	return &Assembler{
		size: size, bs: blockSize, emit: emit, max: opts.MaxPartial,
		partial: map[int64]*partial{}, done: make([]uint64, (n+63)/64),
	}, nil
}

// Size is the device size.
func (a *Assembler) Size() int64 { return a.size }

// WriteAt writes p at off. A block it completes is handed on before
// WriteAt returns.
func (a *Assembler) WriteAt(p []byte, off int64) (int, error) {
	if off < 0 || off > a.size || int64(len(p)) > a.size-off {
		return 0, fmt.Errorf("writing %d bytes at offset %d of a %d-byte device: out of range", len(p), off, a.size)
	}
	ready, n, err := a.write(p, off)
	for _, r := range ready {
		if eerr := a.hand(r.off, r.p.buf); eerr != nil && err == nil {
			err, n = eerr, 0
		}
		a.release(r.p)
	}
	return n, err
}

type readyBlock struct {
	off int64
	p   *partial
}

// write copies p into its blocks under the lock and returns the blocks it
// completed.
func (a *Assembler) write(p []byte, off int64) (ready []readyBlock, n int, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.err != nil {
		return nil, 0, a.err
	}
	a.stats.Written += int64(len(p))
	for len(p) > 0 {
		idx := off / a.bs
		start := off - idx*a.bs
		k := min(int64(len(p)), a.bs-start)
		if a.isDone(idx) {
			return ready, n, fmt.Errorf("writing %d bytes at offset %d: %w (block %d)", len(p), off, ErrRewrite, idx)
		}
		b := a.partial[idx]
		if b == nil {
			if len(a.partial) >= a.max {
				return ready, n, fmt.Errorf("writing at offset %d: more than %d blocks of %d bytes written in part at once", off, a.max, a.bs)
			}
			b = &partial{buf: a.buffer()}
			a.partial[idx] = b
			a.stats.PeakPartial = max(a.stats.PeakPartial, int64(len(a.partial)))
		}
		copy(b.buf[start:], p[:k])
		b.cover(start, start+k)
		if b.full(a.blockLen(idx)) {
			delete(a.partial, idx)
			a.markDone(idx)
			ready = append(ready, readyBlock{idx * a.bs, b})
		}
		p, off, n = p[k:], off+k, n+int(k)
	}
	return ready, n, nil
}

// blockLen is the number of device bytes in block idx (less than the block
// size only for the last block of a device that is not a whole number of
// blocks).
func (a *Assembler) blockLen(idx int64) int64 { return min(a.bs, a.size-idx*a.bs) }

// hand passes one block to emit unless it is all zeros; an error sticks.
func (a *Assembler) hand(off int64, buf []byte) error {
	if allZero(buf) {
		a.mu.Lock()
		a.stats.ZeroSkipped++
		a.mu.Unlock()
		return nil
	}
	a.emitMu.Lock()
	err := a.emit(off, buf)
	a.emitMu.Unlock()
	a.mu.Lock()
	defer a.mu.Unlock()
	if err != nil {
		if a.err == nil {
			a.err = err
		}
		return err
	}
	a.stats.Emitted++
	return nil
}

// Close hands on every block written in part, in offset order, zero-filled
// where nothing was written. A closed Assembler refuses writes.
func (a *Assembler) Close() error {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return a.err
	}
	a.closed = true
	idxs := make([]int64, 0, len(a.partial))
	for i := range a.partial {
		idxs = append(idxs, i)
	}
	slices.Sort(idxs)
	err := a.err
	a.mu.Unlock()
	for _, i := range idxs {
		a.mu.Lock()
		p := a.partial[i]
		delete(a.partial, i)
		a.markDone(i)
		a.mu.Unlock()
		if err == nil {
			zero := allZero(p.buf)
			if err = a.hand(i*a.bs, p.buf); err == nil && !zero {
				a.mu.Lock()
				a.stats.AtClose++
				a.mu.Unlock()
			}
		}
		a.release(p)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.err == nil {
		a.err = errClosed
	}
	return err
}

var errClosed = errors.New("block assembler closed")

// Abort drops every buffered block without handing it on; later writes
// fail.
func (a *Assembler) Abort() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.closed = true
	if a.err == nil {
		a.err = errClosed
	}
	a.partial = map[int64]*partial{}
	a.free = nil
}

// Stats reports the counters so far.
func (a *Assembler) Stats() Stats {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.stats
}

func (a *Assembler) isDone(i int64) bool { return a.done[i/64]&(1<<(i%64)) != 0 }
func (a *Assembler) markDone(i int64)    { a.done[i/64] |= 1 << (i % 64) }

// buffer gives a zeroed block buffer, reusing released ones (called with
// the lock held).
func (a *Assembler) buffer() []byte {
	if n := len(a.free); n > 0 {
		b := a.free[n-1]
		a.free = a.free[:n-1]
		clear(b)
		return b
	}
	return make([]byte, a.bs)
}

// release keeps a few buffers for reuse.
func (a *Assembler) release(p *partial) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.free) < 8 && !a.closed {
		a.free = append(a.free, p.buf)
	}
	p.buf = nil
}

// cover records [lo, hi) as written, merging neighbours.
func (p *partial) cover(lo, hi int64) {
	i, _ := slices.BinarySearchFunc(p.covered, lo, func(s span, v int64) int {
		switch {
		case s.hi < v:
			return -1
		case s.hi > v:
			return 1
		}
		return 0
	})
	// p.covered[i:] are the spans that end at or after lo; merge those
	// that start at or before hi.
	j := i
	for j < len(p.covered) && p.covered[j].lo <= hi {
		lo, hi = min(lo, p.covered[j].lo), max(hi, p.covered[j].hi)
		j++
	}
	p.covered = slices.Replace(p.covered, i, j, span{lo, hi})
}

func (p *partial) full(n int64) bool {
	return len(p.covered) == 1 && p.covered[0].lo == 0 && p.covered[0].hi >= n
}

var zeros [64 << 10]byte

func allZero(b []byte) bool {
	for len(b) > 0 {
		n := min(len(b), len(zeros))
		if !bytes.Equal(b[:n], zeros[:n]) {
			return false
		}
		b = b[n:]
	}
	return true
}
