package squashfs

import (
	"bytes"
	"compress/zlib"
	"io"
	"math/rand/v2"
	"testing"
)

// TestPageDeflate checks that pageDeflate's streams inflate back to their
// input with the standard library, pass the GRUB check, and stay within
// the bytes MaxSize allows a block: its data pages plus dataBound's
// per-block framing.
func TestPageDeflate(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	data := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		return b
	}
	zero := func(n int) []byte { return make([]byte, n) }
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	cases := []struct {
		name string
		src  []byte
	}{
		{name: "one zero page", src: zero(4096)},
		{name: "zero block of 1 MiB", src: zero(1 << 20)},
		{name: "one data page", src: data(4096)},
		{name: "data over a stored block's 65535 bytes", src: data(128 << 10)},
		{name: "alternating pages", src: cat(data(4096), zero(4096), data(4096), zero(4096), data(4096), zero(4096))},
		{name: "zeros then a short data tail", src: cat(zero(12288), data(17))},
		{name: "data then a partial zero tail", src: cat(data(4096), zero(1))},
		{name: "zero tails of every remainder class", src: cat(data(4096), zero(4096+259))},
		{name: "zero tail 260", src: cat(data(4096), zero(260))},
		{name: "zero tail 2", src: cat(data(4096), zero(2))},
		{name: "repeats of one period over zero pages", src: cat(bytes.Repeat([]byte("xggggzn"), 2344), zero(114663))},
	}
	var chk deflateChecker
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := pageDeflate(nil, c.src)
			zr, err := zlib.NewReader(bytes.NewReader(out))
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(zr)
			if err != nil || !bytes.Equal(got, c.src) {
				t.Fatalf("inflates to %d bytes (%v), want the %d-byte input", len(got), err, len(c.src))
			}
			if !chk.grubSafe(out[2 : len(out)-4]) {
				t.Error("GRUB's inflate would refuse the stream")
			}
			var pages int64
			for off := 0; off < len(c.src); off += pageSize {
				if !isZeroPage(c.src[off:min(off+pageSize, len(c.src))]) {
					pages++
				}
			}
			bs := int64(len(c.src))
			if bound := pages*pageSize + 256 + bs/128; int64(len(out)) > bound {
				t.Errorf("%d bytes for %d data pages, over the %d MaxSize allows", len(out), pages, bound)
			}
		})
	}
}
