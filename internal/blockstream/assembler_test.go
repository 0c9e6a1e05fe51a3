package blockstream_test

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/elemental-suite/elemental/internal/blockstream"
)

// collector records emitted blocks and fails on a block handed on twice.
type collector struct {
	mu     sync.Mutex
	blocks map[int64][]byte
	twice  []int64
	bs     int64
}

func newCollector(bs int64) *collector { return &collector{blocks: map[int64][]byte{}, bs: bs} }

func (c *collector) emit(off int64, data []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if int64(len(data)) != c.bs || off%c.bs != 0 {
		return fmt.Errorf("bad block: %d bytes at %d", len(data), off)
	}
	if _, ok := c.blocks[off]; ok {
		c.twice = append(c.twice, off)
	}
	c.blocks[off] = bytes.Clone(data)
	return nil
}

// image reassembles the device from the emitted blocks (missing blocks
// read as zeros).
func (c *collector) image(size int64) []byte {
	out := make([]byte, size+c.bs)
	for off, b := range c.blocks {
		copy(out[off:], b)
	}
	return out[:size]
}

// write is one WriteAt of a test pattern.
type write struct{ off, n int64 }

// scatter cuts [0,size) into pieces, leaves some out as holes, and
// shuffles the rest, as a file system writer interleaves data and tables.
func scatter(r *rand.Rand, size int64, holes bool) []write {
	var ws []write
	for off := int64(0); off < size; {
		n := min(size-off, 1+r.Int64N(3000))
		if !holes || r.IntN(5) != 0 {
			ws = append(ws, write{off, n})
		}
		off += n
	}
	r.Shuffle(len(ws), func(i, j int) { ws[i], ws[j] = ws[j], ws[i] })
	return ws
}

func TestAssemblerMatchesDevice(t *testing.T) {
	for _, tc := range []struct {
		name      string
		size, bs  int64
		holes     bool
		zeroShare int // one write in zeroShare writes zeros (0: none)
	}{
		{name: "whole blocks", size: 64 << 10, bs: 4096},
		{name: "device not a whole number of blocks", size: 64<<10 + 1234, bs: 4096},
		{name: "holes", size: 200 << 10, bs: 8192, holes: true},
		{name: "holes and zero writes", size: 200<<10 + 77, bs: 8192, holes: true, zeroShare: 2},
		{name: "one block", size: 1000, bs: 4096, holes: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(tc.size), uint64(tc.bs)))
			want := make([]byte, tc.size)
			c := newCollector(tc.bs)
			a, err := blockstream.New(tc.size, tc.bs, c.emit, blockstream.Options{MaxPartial: 1 << 20})
			if err != nil {
				t.Fatal(err)
			}
			for i, w := range scatter(r, tc.size, tc.holes) {
				p := make([]byte, w.n)
				if tc.zeroShare == 0 || i%tc.zeroShare != 0 {
					for j := range p {
						p[j] = byte(1 + r.IntN(255))
					}
				}
				copy(want[w.off:], p)
				if n, err := a.WriteAt(p, w.off); err != nil || int64(n) != w.n {
					t.Fatalf("WriteAt(%d bytes at %d) = %d, %v", w.n, w.off, n, err)
				}
			}
			if err := a.Close(); err != nil {
				t.Fatal(err)
			}
			if len(c.twice) > 0 {
				t.Fatalf("blocks handed on twice: %v", c.twice)
			}
			if got := c.image(tc.size); !bytes.Equal(got, want) {
				t.Fatalf("reassembled device differs from what was written")
			}
			st := a.Stats()
			for off, b := range c.blocks {
				if bytes.Count(b, []byte{0}) == len(b) {
					t.Errorf("all-zero block at %d handed on", off)
				}
			}
			nblocks := (tc.size + tc.bs - 1) / tc.bs
			if st.Emitted != int64(len(c.blocks)) || st.Emitted+st.ZeroSkipped > nblocks {
				t.Errorf("stats %+v: %d blocks emitted, %d blocks in the device", st, len(c.blocks), nblocks)
			}
			if !tc.holes && st.AtClose != 0 && tc.size%tc.bs == 0 {
				t.Errorf("%d blocks left to Close though every byte was written", st.AtClose)
			}
		})
	}
}

// A block is handed on the moment its last byte arrives, not at Close.
func TestAssemblerEmitsEarly(t *testing.T) {
	c := newCollector(4)
	a, err := blockstream.New(12, 4, c.emit, blockstream.Options{})
	if err != nil {
		t.Fatal(err)
	}
	a.WriteAt([]byte{1, 2}, 4)
	if len(c.blocks) != 0 {
		t.Fatalf("block handed on before it was complete")
	}
	a.WriteAt([]byte{3, 4, 5}, 6) // completes block 1, starts block 2
	if got := c.blocks[4]; !bytes.Equal(got, []byte{1, 2, 3, 4}) {
		t.Fatalf("block 1 = %v, want [1 2 3 4] handed on by the write that completed it", got)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if got := c.blocks[8]; !bytes.Equal(got, []byte{5, 0, 0, 0}) {
		t.Fatalf("block 2 at Close = %v, want [5 0 0 0]", got)
	}
	if st := a.Stats(); st.AtClose != 1 || st.Emitted != 2 || st.PeakPartial != 1 {
		t.Fatalf("stats %+v, want 2 emitted, 1 at Close, peak 1", st)
	}
}

// Overlapping writes into a block not yet complete: the last one wins.
func TestAssemblerOverwriteBeforeComplete(t *testing.T) {
	c := newCollector(4)
	a, _ := blockstream.New(4, 4, c.emit, blockstream.Options{})
	a.WriteAt([]byte{9, 9, 9}, 0)
	a.WriteAt([]byte{1, 2}, 1)
	a.WriteAt([]byte{7}, 3)
	if got := c.blocks[0]; !bytes.Equal(got, []byte{9, 1, 2, 7}) {
		t.Fatalf("block = %v, want [9 1 2 7]", got)
	}
}

func TestAssemblerErrors(t *testing.T) {
	boom := errors.New("upload failed")
	for _, tc := range []struct {
		name string
		run  func(a *blockstream.Assembler) error
		emit blockstream.EmitFunc
		want string
		is   error
	}{
		{name: "rewrite of a block handed on", run: func(a *blockstream.Assembler) error {
			a.WriteAt(make([]byte, 4), 0)
			a.WriteAt([]byte{1, 1, 1, 1}, 4)
			_, err := a.WriteAt([]byte{2}, 5)
			return err
		}, is: blockstream.ErrRewrite, want: "offset 5"},
		{name: "past the end", run: func(a *blockstream.Assembler) error {
			_, err := a.WriteAt([]byte{1, 2}, 15)
			return err
		}, want: "2 bytes at offset 15 of a 16-byte device: out of range"},
		{name: "negative offset", run: func(a *blockstream.Assembler) error {
			_, err := a.WriteAt([]byte{1}, -1)
			return err
		}, want: "out of range"},
		{name: "too many partial blocks", run: func(a *blockstream.Assembler) error {
			a.WriteAt([]byte{1}, 0)
			a.WriteAt([]byte{1}, 4)
			_, err := a.WriteAt([]byte{1}, 8)
			return err
		}, want: "more than 2 blocks of 4 bytes written in part at once"},
		{name: "emit error sticks", emit: func(int64, []byte) error { return boom }, run: func(a *blockstream.Assembler) error {
			if _, err := a.WriteAt([]byte{1, 1, 1, 1}, 0); !errors.Is(err, boom) {
				return fmt.Errorf("first write: %v, want %v", err, boom)
			}
			if _, err := a.WriteAt([]byte{1}, 8); !errors.Is(err, boom) {
				return fmt.Errorf("later write: %v, want %v", err, boom)
			}
			return a.Close()
		}, is: boom},
		{name: "emit error at Close", emit: func(int64, []byte) error { return boom }, run: func(a *blockstream.Assembler) error {
			a.WriteAt([]byte{1}, 0)
			return a.Close()
		}, is: boom},
		{name: "write after Close", run: func(a *blockstream.Assembler) error {
			a.Close()
			_, err := a.WriteAt([]byte{1}, 0)
			return err
		}, want: "closed"},
		{name: "write after Abort", run: func(a *blockstream.Assembler) error {
			a.WriteAt([]byte{1}, 0)
			a.Abort()
			_, err := a.WriteAt([]byte{1}, 1)
			return err
		}, want: "closed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			emit := tc.emit
			if emit == nil {
				emit = newCollector(4).emit
			}
			a, err := blockstream.New(16, 4, emit, blockstream.Options{MaxPartial: 2})
			if err != nil {
				t.Fatal(err)
			}
			err = tc.run(a)
			if err == nil {
				t.Fatal("no error")
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %v, want %v", err, tc.is)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
		})
	}
}

func TestAssemblerAbortEmitsNothing(t *testing.T) {
	c := newCollector(4)
	a, _ := blockstream.New(16, 4, c.emit, blockstream.Options{})
	a.WriteAt([]byte{1, 2}, 0)
	a.Abort()
	if err := a.Close(); err == nil {
		t.Error("Close after Abort succeeded")
	}
	if len(c.blocks) != 0 {
		t.Fatalf("Abort handed on %d blocks", len(c.blocks))
	}
}

func TestNewRefusesBadSizes(t *testing.T) {
	for _, tc := range []struct {
		name     string
		size, bs int64
	}{{"zero size", 0, 4}, {"zero block", 16, 0}, {"negative", -1, 4}} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := blockstream.New(tc.size, tc.bs, nil, blockstream.Options{}); err == nil {
				t.Fatal("no error")
			}
		})
	}
}

// Writers on several goroutines, as the squashfs pipeline's, each own a
// region; the device must come out whole.
func TestAssemblerConcurrentWriters(t *testing.T) {
	const size, bs, writers = 1 << 20, 8192, 4
	c := newCollector(bs)
	a, _ := blockstream.New(size, bs, c.emit, blockstream.Options{MaxPartial: 1 << 10})
	want := make([]byte, size)
	for i := range want {
		want[i] = byte(i*7 + i>>9)
	}
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 1))
			lo, hi := int64(w)*size/writers, int64(w+1)*size/writers
			for _, p := range scatter(r, hi-lo, false) {
				if _, err := a.WriteAt(want[lo+p.off:lo+p.off+p.n], lo+p.off); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(c.image(size), want) || len(c.twice) > 0 {
		t.Fatalf("device differs or blocks handed on twice (%v)", c.twice)
	}
}
