package squashfs

import (
	"errors"
	"fmt"
)

// refCheck is a slow, bit-by-bit deflate walker in the style of zlib's
// puff.c, written separately from grubsafe.go as its test oracle: it
// returns a description of the first table GRUB 2.06's huft_build would
// refuse, or an error for a malformed stream.
type refReader struct {
	b   []byte
	pos int
	bit uint
	n   uint
}

func (r *refReader) bits(n uint) (uint32, error) {
	var v uint32
	for i := uint(0); i < n; i++ {
		if r.pos >= len(r.b) {
			return 0, errors.New("eof")
		}
		v |= uint32((r.b[r.pos]>>r.bit)&1) << i
		r.bit++
		if r.bit == 8 {
			r.bit = 0
			r.pos++
		}
	}
	return v, nil
}

type refHuff struct {
	count [16]int
	sym   []int
}

// build returns the huffman and whether GRUB would accept it.
func refBuild(lens []int) (*refHuff, string) {
	h := &refHuff{}
	for _, l := range lens {
		h.count[l]++
	}
	if h.count[0] == len(lens) {
		return h, ""
	}
	left := 1
	maxl := 0
	for l := 1; l < 16; l++ {
		left <<= 1
		left -= h.count[l]
		if left < 0 {
			return nil, "oversubscribed"
		}
		if h.count[l] > 0 {
			maxl = l
		}
	}
	offs := [16]int{}
	for l := 1; l < 15; l++ {
		offs[l+1] = offs[l] + h.count[l]
	}
	h.sym = make([]int, len(lens))
	for s, l := range lens {
		if l != 0 {
			h.sym[offs[l]] = s
			offs[l]++
		}
	}
	nz := len(lens) - h.count[0]
	if left > 0 && (maxl != 1 || nz != len(lens)) {
		return h, fmt.Sprintf("incomplete (left %d, max %d, counts %v)", left, maxl, h.count)
	}
	return h, ""
}

func (r *refReader) decode(h *refHuff) (int, error) {
	code, first, index := 0, 0, 0
	for l := 1; l < 16; l++ {
		b, err := r.bits(1)
		if err != nil {
			return 0, err
		}
		code |= int(b)
		c := h.count[l]
		if code-c < first {
			return h.sym[index+(code-first)], nil
		}
		index += c
		first += c
		first <<= 1
		code <<= 1
	}
	return 0, errors.New("bad code")
}

var refLext = []uint{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0}
var refDext = []uint{0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13}

// check walks raw deflate data; returns a description of the first GRUB-rejected tree.
func refCheck(b []byte) (string, error) {
	r := &refReader{b: b}
	for blk := 0; ; blk++ {
		final, err := r.bits(1)
		if err != nil {
			return "", err
		}
		typ, _ := r.bits(2)
		switch typ {
		case 0:
			if r.bit != 0 {
				r.bit = 0
				r.pos++
			}
			if r.pos+4 > len(b) {
				return "", errors.New("eof stored")
			}
			n := int(b[r.pos]) | int(b[r.pos+1])<<8
			r.pos += 4 + n
		case 1:
			// fixed: decode symbols
			ll := make([]int, 288)
			for i := range ll {
				switch {
				case i < 144:
					ll[i] = 8
				case i < 256:
					ll[i] = 9
				case i < 280:
					ll[i] = 7
				default:
					ll[i] = 8
				}
			}
			lh, _ := refBuild(ll)
			dl := make([]int, 30)
			for i := range dl {
				dl[i] = 5
			}
			dh, _ := refBuild(dl)
			if err := refCodes(r, lh, dh); err != nil {
				return "", err
			}
		case 2:
			nl, _ := r.bits(5)
			nd, _ := r.bits(5)
			nc, _ := r.bits(4)
			order := []int{16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15}
			cl := make([]int, 19)
			for i := 0; i < int(nc)+4; i++ {
				v, _ := r.bits(3)
				cl[order[i]] = int(v)
			}
			ch, bad := refBuild(cl)
			if bad != "" {
				return fmt.Sprintf("block %d codelen tree %s", blk, bad), nil
			}
			n := int(nl) + 257 + int(nd) + 1
			lens := make([]int, 0, n)
			for len(lens) < n {
				s, err := r.decode(ch)
				if err != nil {
					return "", err
				}
				switch {
				case s < 16:
					lens = append(lens, s)
				case s == 16:
					v, _ := r.bits(2)
					for j := 0; j < int(v)+3; j++ {
						lens = append(lens, lens[len(lens)-1])
					}
				case s == 17:
					v, _ := r.bits(3)
					for j := 0; j < int(v)+3; j++ {
						lens = append(lens, 0)
					}
				default:
					v, _ := r.bits(7)
					for j := 0; j < int(v)+11; j++ {
						lens = append(lens, 0)
					}
				}
			}
			lh, bad := refBuild(lens[:nl+257])
			if bad != "" {
				return fmt.Sprintf("block %d literal tree %s", blk, bad), nil
			}
			dh, bad := refBuild(lens[nl+257:])
			if bad != "" {
				return fmt.Sprintf("block %d distance tree %s (nd %d lens %v)", blk, bad, nd+1, lens[nl+257:]), nil
			}
			if err := refCodes(r, lh, dh); err != nil {
				return "", err
			}
		default:
			return "", errors.New("bad block type")
		}
		if final == 1 {
			return "", nil
		}
	}
}

func refCodes(r *refReader, lh, dh *refHuff) error {
	for {
		s, err := r.decode(lh)
		if err != nil {
			return err
		}
		if s < 256 {
			continue
		}
		if s == 256 {
			return nil
		}
		s -= 257
		if _, err := r.bits(refLext[s]); err != nil {
			return err
		}
		d, err := r.decode(dh)
		if err != nil {
			return err
		}
		if _, err := r.bits(refDext[d]); err != nil {
			return err
		}
	}
}
