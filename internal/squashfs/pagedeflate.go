package squashfs

import (
	"encoding/binary"
	"hash/adler32"
)

// pageDeflate is the last zlib encoding tried for a gzip data block, when
// the general encoder's output would not load in GRUB (grubsafe.go). It is
// built so that MaxSize, which counts only the 4 KiB pages holding data,
// stays a true bound: every all-zero page becomes a fixed-Huffman run of
// distance-1 matches (about 27 bytes per page), every other page is copied
// into stored blocks. Both block types use tables GRUB always accepts (the
// fixed table, or none), so no check is needed. A general encoder cannot
// promise either: its matches over zero runs may all share one distance
// code other than 0, and Huffman-only output spends a bit per zero byte.
//
// The bit layout follows RFC 1951 (section 3.2); no library exposes a
// deflate writer at this level.
func pageDeflate(dst, src []byte) []byte {
	bw := bitWriter{b: append(dst[:0], 0x78, 0x01)} // zlib header: 32 KiB window, fastest
	for off := 0; off < len(src); {
		end := off
		zero := isZeroPage(src[off:min(off+pageSize, len(src))])
		for end < len(src) && isZeroPage(src[end:min(end+pageSize, len(src))]) == zero {
			end = min(end+pageSize, len(src))
		}
		if zero {
			bw.zeroRun(end - off)
		} else {
			bw.stored(src[off:end])
		}
		off = end
	}
	// An empty final stored block ends the stream on a byte boundary.
	bw.stored(nil)
	bw.flush()
	return binary.BigEndian.AppendUint32(bw.b, adler32.Checksum(src))
}

// pageSize is the page DataBlocks counts (rootfs.Counter).
const pageSize = 4096

func isZeroPage(p []byte) bool {
	for _, c := range p {
		if c != 0 {
			return false
		}
	}
	return true
}

// bitWriter packs deflate bits least significant first.
type bitWriter struct {
	b     []byte
	acc   uint64
	nbits uint
}

func (w *bitWriter) bits(v uint64, n uint) {
	w.acc |= v << w.nbits
	w.nbits += n
	for w.nbits >= 8 {
		w.b = append(w.b, byte(w.acc))
		w.acc >>= 8
		w.nbits -= 8
	}
}

// code writes a Huffman code, which deflate sends most significant first.
func (w *bitWriter) code(c uint64, n uint) {
	var r uint64
	for i := uint(0); i < n; i++ {
		r = r<<1 | c>>i&1
	}
	w.bits(r, n)
}

func (w *bitWriter) flush() {
	if w.nbits > 0 {
		w.b = append(w.b, byte(w.acc))
		w.acc, w.nbits = 0, 0
	}
}

// stored writes p as stored blocks; nil writes the final, empty one.
func (w *bitWriter) stored(p []byte) {
	for first := true; first || len(p) > 0; first = false {
		n := min(len(p), 0xffff)
		final := uint64(0)
		if p == nil {
			final = 1
		}
		w.bits(final, 1)
		w.bits(0, 2) // BTYPE 00
		w.flush()
		w.b = binary.LittleEndian.AppendUint16(w.b, uint16(n))
		w.b = binary.LittleEndian.AppendUint16(w.b, ^uint16(n))
		w.b = append(w.b, p[:n]...)
		p = p[n:]
	}
}

// Fixed-Huffman codes (RFC 1951 3.2.6) used by zeroRun.
const (
	litZeroCode = 0x30 // literal 0: 8 bits 00110000
	endCode     = 0    // end of block (256): 7 bits
	distOneCode = 0    // distance code 0 (distance 1): 5 bits
)

// lengthBase is the shortest match length of codes 257..285 (their
// extra bits are grubsafe.go's lengthExtra).
var lengthBase = [29]int{3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258}

// zeroRun writes n zero bytes as one fixed-Huffman block: a literal 0,
// then matches at distance 1.
func (w *bitWriter) zeroRun(n int) {
	w.bits(0, 1)
	w.bits(1, 2) // BTYPE 01
	w.code(litZeroCode, 8)
	for n--; n > 0; {
		if n < 3 {
			w.code(litZeroCode, 8)
			n--
			continue
		}
		l := min(n, 258)
		if n-l > 0 && n-l < 3 {
			l = n - 3 // leave a remainder a match can take
		}
		w.match(l)
		n -= l
	}
	w.code(endCode, 7)
}

// match writes a match of length l (3..258) at distance 1.
func (w *bitWriter) match(l int) {
	i := len(lengthBase) - 1
	for lengthBase[i] > l {
		i--
	}
	sym := 257 + i
	if sym <= 279 {
		w.code(uint64(sym-256), 7) // 256..279: 7 bits from 0000000
	} else {
		w.code(uint64(sym-280+0xc0), 8) // 280..287: 8 bits from 11000000
	}
	w.bits(uint64(l-lengthBase[i]), uint(lengthExtra[i]))
	w.code(distOneCode, 5)
}
