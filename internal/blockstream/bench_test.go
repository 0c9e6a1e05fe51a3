package blockstream_test

import (
	"testing"

	"github.com/elemental-suite/elemental/internal/blockstream"
)

// BenchmarkSequential4K is the common case: file data written 4 KiB at a
// time in order into 512 KiB blocks.
func BenchmarkSequential4K(b *testing.B) {
	const size, bs = 64 << 20, 512 << 10
	p := make([]byte, 4096)
	for i := range p {
		p[i] = byte(i)
	}
	b.SetBytes(size)
	for b.Loop() {
		a, _ := blockstream.New(size, bs, func(int64, []byte) error { return nil }, blockstream.Options{})
		for off := int64(0); off < size; off += 4096 {
			a.WriteAt(p, off)
		}
		a.Close()
	}
}
