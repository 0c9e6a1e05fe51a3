package blockstream_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/elemental-suite/elemental/internal/blockstream"
)

// FuzzAssembler drives random writes (offset, length, byte) and checks
// the emitted blocks against a plain buffer, allowing ErrRewrite only for
// writes into blocks already complete.
func FuzzAssembler(f *testing.F) {
	f.Add([]byte{0, 0, 10, 1, 5, 0, 20, 2})
	f.Add([]byte{3, 0, 200, 7, 0, 0, 255, 1, 0, 0, 255, 3})
	f.Fuzz(func(t *testing.T, ops []byte) {
		const size, bs = 1000, 64
		want := make([]byte, size)
		done := map[int64]bool{}
		c := newCollector(bs)
		a, err := blockstream.New(size, bs, c.emit, blockstream.Options{MaxPartial: 1 << 10})
		if err != nil {
			t.Fatal(err)
		}
		written := make([]bool, size)
		for len(ops) >= 4 {
			off := int64(binary.LittleEndian.Uint16(ops) % size)
			n := min(int64(ops[2])+1, size-off)
			val := ops[3]
			ops = ops[4:]
			_, err := a.WriteAt(bytes.Repeat([]byte{val}, int(n)), off)
			// The model: blocks in order; a finished block stops the write.
			rewrite := false
			for o := off; o < off+n && !rewrite; {
				b := o / bs
				hi := min(off+n, (b+1)*bs)
				if done[b] {
					rewrite = true
					break
				}
				for i := o; i < hi; i++ {
					want[i], written[i] = val, true
				}
				full := true
				for i := b * bs; i < min(size, (b+1)*bs); i++ {
					full = full && written[i]
				}
				done[b] = full
				o = hi
			}
			if rewrite != errors.Is(err, blockstream.ErrRewrite) || (err != nil && !rewrite) {
				t.Fatalf("WriteAt(%d at %d) = %v, model says rewrite=%v", n, off, err, rewrite)
			}
		}
		if err := a.Close(); err != nil {
			t.Fatal(err)
		}
		if len(c.twice) > 0 {
			t.Fatalf("blocks handed on twice: %v", c.twice)
		}
		if !bytes.Equal(c.image(size), want) {
			t.Fatal("device differs")
		}
	})
}
