package squashfs

// GRUB 2.06's inflate (grub-core/io/gzio.c, huft_build) refuses every
// incomplete Huffman code except a single code in a table of one symbol:
// the unused bit patterns of an incomplete code would be filled from
// value slots it leaves uninitialised, and it bails out with "failed in
// building a Huffman code table". zlib and the Linux kernel accept such
// codes, and deflate encoders emit one whenever a block's matches all use
// a single distance code other than 0 (a distance table of HDIST > 1
// entries holding one 1-bit code): the standard library at level 6 did so
// in 8 of 122 one-MiB blocks of the test derivative, klauspost/compress
// at any level about as often. grubSafe finds such streams so that the
// compressor can fall back; it walks every block of the stream, decoding
// the symbols (not the data) to find where the next block starts.

import "encoding/binary"

// Bit lengths of the extra bits of length codes 257..285 and distance
// codes 0..29 (RFC 1951 §3.2.5).
var (
	lengthExtra = [29]uint8{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0}
	distExtra   = [30]uint8{0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13}
	clOrder     = [19]uint8{16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15}
)

// huffTable decodes one canonical Huffman code with a single lookup of
// its longest code's bits: entry = symbol<<4 | code length, 0 for a bit
// pattern no code starts with.
type huffTable struct {
	entries []uint16
	mask    uint64
}

// build makes t decode the code of lens and reports whether GRUB accepts
// it: complete, all zero (no code), or one 1-bit code in a one-symbol
// table. Over-subscribed codes are rejected too.
func (t *huffTable) build(lens []uint8) bool {
	var count [16]int
	maxLen := 0
	for _, l := range lens {
		count[l]++
		maxLen = max(maxLen, int(l))
	}
	if maxLen == 0 {
		t.entries, t.mask = t.entries[:0], 0
		return true
	}
	left := 1
	for l := 1; l <= 15; l++ {
		left = left<<1 - count[l]
		if left < 0 {
			return false
		}
	}
	if left > 0 && len(lens) != 1 {
		return false
	}
	var next [16]int
	code := 0
	for l := 1; l <= 15; l++ {
		code = (code + count[l-1]*boolInt(l > 1)) << 1
		next[l] = code
	}
	size := 1 << maxLen
	if cap(t.entries) < size {
		t.entries = make([]uint16, size)
	}
	t.entries = t.entries[:size]
	clear(t.entries)
	t.mask = uint64(size - 1)
	for sym, l := range lens {
		if l == 0 {
			continue
		}
		c := next[l]
		next[l]++
		rev := 0
		for i := 0; i < int(l); i++ {
			rev |= (c >> i & 1) << (int(l) - 1 - i)
		}
		for i := rev; i < size; i += 1 << l {
			t.entries[i] = uint16(sym)<<4 | uint16(l)
		}
	}
	return true
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// bitReader reads a deflate stream LSB first. Reads past the end yield
// zero bits; overrun reports whether any of those were consumed.
type bitReader struct {
	b   []byte
	pos int // next byte to load, may pass len(b)
	acc uint64
	n   uint // bits in acc
}

// fill loads bytes until at least 56 bits are buffered.
func (r *bitReader) fill() {
	if r.n >= 56 {
		return
	}
	if r.pos+8 <= len(r.b) {
		r.acc |= binary.LittleEndian.Uint64(r.b[r.pos:]) << r.n
		r.pos += int(63-r.n) / 8
		r.n |= 56
		return
	}
	for r.n < 56 {
		if r.pos < len(r.b) {
			r.acc |= uint64(r.b[r.pos]) << r.n
		}
		r.pos++
		r.n += 8
	}
}

func (r *bitReader) bits(n uint8) uint64 {
	v := r.acc & (1<<n - 1)
	r.acc >>= n
	r.n -= uint(n)
	return v
}

func (r *bitReader) overrun() bool { return r.pos*8-int(r.n) > len(r.b)*8 }

// decode reads one symbol of t; ok is false for a pattern no code has.
func (r *bitReader) decode(t *huffTable) (sym int, ok bool) {
	if t.mask == 0 {
		return 0, false
	}
	e := t.entries[r.acc&t.mask]
	if e == 0 {
		return 0, false
	}
	r.bits(uint8(e & 15))
	return int(e >> 4), true
}

// deflateChecker holds the tables grubSafe reuses between calls.
type deflateChecker struct {
	cl, lit, dist       huffTable
	fixedLit, fixedDist huffTable
	fixedBuilt          bool
	lens                [286 + 30]uint8
	clLens              [19]uint8
}

// grubSafe reports whether raw deflate data is a well-formed stream whose
// every Huffman table GRUB 2.06 accepts.
func (c *deflateChecker) grubSafe(data []byte) bool {
	r := &bitReader{b: data}
	for {
		r.fill()
		final := r.bits(1)
		var ok bool
		switch r.bits(2) {
		case 0:
			ok = c.skipStored(r)
		case 1:
			c.buildFixed()
			ok = c.codes(r, &c.fixedLit, &c.fixedDist)
		case 2:
			ok = c.dynamic(r) && c.codes(r, &c.lit, &c.dist)
		}
		if !ok || r.overrun() {
			return false
		}
		if final == 1 {
			return true
		}
	}
}

func (c *deflateChecker) skipStored(r *bitReader) bool {
	p := r.pos - int(r.n/8) // the byte after the header's bits
	if p < 0 || p+4 > len(r.b) {
		return false
	}
	n := int(binary.LittleEndian.Uint16(r.b[p:]))
	if binary.LittleEndian.Uint16(r.b[p+2:]) != ^uint16(n) || p+4+n > len(r.b) {
		return false
	}
	r.pos, r.acc, r.n = p+4+n, 0, 0
	return true
}

func (c *deflateChecker) buildFixed() {
	if c.fixedBuilt {
		return
	}
	var l [288]uint8
	for i := range l {
		switch {
		case i < 144:
			l[i] = 8
		case i < 256:
			l[i] = 9
		case i < 280:
			l[i] = 7
		default:
			l[i] = 8
		}
	}
	c.fixedLit.build(l[:])
	var d [32]uint8
	for i := range d {
		d[i] = 5
	}
	c.fixedDist.build(d[:])
	c.fixedBuilt = true
}

// dynamic reads a dynamic block's header and builds its tables.
func (c *deflateChecker) dynamic(r *bitReader) bool {
	nl, nd, nc := int(r.bits(5))+257, int(r.bits(5))+1, int(r.bits(4))+4
	if nl > 286 || nd > 30 {
		return false
	}
	c.clLens = [19]uint8{}
	for i := range nc {
		if i%16 == 0 {
			r.fill() // at least 56 bits
		}
		c.clLens[clOrder[i]] = uint8(r.bits(3))
	}
	if !c.cl.build(c.clLens[:]) {
		return false
	}
	lens := c.lens[:nl+nd]
	for i := 0; i < len(lens); {
		r.fill()
		sym, ok := r.decode(&c.cl)
		if !ok {
			return false
		}
		v, n := uint8(sym), 1
		switch sym {
		case 16:
			if i == 0 {
				return false
			}
			v, n = lens[i-1], 3+int(r.bits(2))
		case 17:
			v, n = 0, 3+int(r.bits(3))
		case 18:
			v, n = 0, 11+int(r.bits(7))
		}
		if i+n > len(lens) {
			return false
		}
		for range n {
			lens[i] = v
			i++
		}
	}
	return c.lit.build(lens[:nl]) && c.dist.build(lens[nl:])
}

// codes skips a block's symbols up to its end-of-block code.
func (c *deflateChecker) codes(r *bitReader, lit, dist *huffTable) bool {
	for {
		r.fill()
		if r.pos > len(r.b)+8 {
			return false
		}
		sym, ok := r.decode(lit)
		switch {
		case !ok || sym > 285:
			return false
		case sym < 256:
			continue
		case sym == 256:
			return true
		}
		r.bits(lengthExtra[sym-257])
		r.fill()
		d, ok := r.decode(dist)
		if !ok || d > 29 {
			return false
		}
		r.bits(distExtra[d])
		if r.overrun() {
			return false
		}
	}
}
