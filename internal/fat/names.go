package fat

import (
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

const maxLongName = 255 // UTF-16 code units

// checkName reports why name cannot be a VFAT long name. Names that Linux
// would silently change (trailing dots or spaces) are refused too.
func checkName(name string) error {
	switch {
	case name == "" || name == "." || name == "..":
		return fmt.Errorf("name %q is reserved", name)
	case !utf8.ValidString(name):
		return fmt.Errorf("name %q is not valid UTF-8", name)
	case strings.HasSuffix(name, ".") || strings.HasSuffix(name, " "):
		return fmt.Errorf("name %q ends in a dot or space, which FAT drops", name)
	case len(utf16.Encode([]rune(name))) > maxLongName:
		return fmt.Errorf("name %q is longer than %d UTF-16 code units", name, maxLongName)
	}
	for _, r := range name {
		if r < 0x20 || strings.ContainsRune(`"*/:<>?\|`, r) || r == 0x7F {
			return fmt.Errorf("name %q contains %q, which FAT does not allow", name, r)
		}
	}
	return nil
}

// shortInfo tracks, like Linux's struct shortname_info, whether the
// characters seen so far were all upper case, all lower case, and kept
// unchanged.
type shortInfo struct{ upper, lower, valid bool }

// shortChar maps one character of a long name to a short-name character:
// ok is false for characters that are dropped (dots and spaces).
func shortChar(r rune, info *shortInfo) (c byte, ok bool) {
	switch {
	case r == '.' || r == ' ':
		info.valid = false
		return 0, false
	case r >= 0x80 || strings.ContainsRune("+,;=[]", r):
		// Linux maps through the codepage; this writer keeps short names
		// ASCII and replaces, which still forces a long name.
		info.valid = false
		return '_', true
	case r >= 'a' && r <= 'z':
		info.upper = false
		return byte(r) - 'a' + 'A', true
	case r >= 'A' && r <= 'Z':
		info.lower = false
	}
	return byte(r), true
}

// shortName is an 11-byte 8.3 directory name, space padded.
type shortName [11]byte

// makeShortName follows vfat_create_shortname with shortname=mixed. It
// returns the alias and whether the long name must be stored as well;
// exists reports whether an alias is taken in the directory.
func makeShortName(name string, exists func(shortName) bool) (sn shortName, needLFN bool, err error) {
	runes := []rune(name)
	baseRunes, extRunes := splitExt(runes)
	base := shortInfo{true, true, true}
	ext := shortInfo{true, true, true}
	isShort := true
	var b, e []byte
	for i, r := range baseRunes {
		c, ok := shortChar(r, &base)
		if !ok {
			continue
		}
		b = append(b, c)
		if len(b) >= 8 {
			if i != len(baseRunes)-1 {
				isShort = false
			}
			break
		}
	}
	if len(b) == 0 {
		return sn, false, errors.New("name has no characters usable in a short name")
	}
	for i, r := range extRunes {
		c, ok := shortChar(r, &ext)
		if !ok {
			continue
		}
		e = append(e, c)
		if len(e) >= 3 {
			if i != len(extRunes)-1 {
				isShort = false
			}
			break
		}
	}
	sn = shortName([]byte("           "))
	copy(sn[:], b)
	copy(sn[8:], e)
	if sn[0] == 0xE5 {
		sn[0] = 0x05
	}
	if isShort && base.valid && ext.valid {
		if exists(sn) {
			return sn, false, fmt.Errorf("short name %q is already used", sn.String())
		}
		return sn, !(base.upper && ext.upper), nil
	}
	return numericTail(sn, len(b), name, exists), true, nil
}

// splitExt splits at the last dot, as Linux does: no extension when there
// is no dot, when the dot is last, or when only dots and spaces precede it.
func splitExt(r []rune) (base, ext []rune) {
	dot := -1
	for i := len(r) - 1; i >= 0; i-- {
		if r[i] == '.' {
			dot = i
			break
		}
	}
	if dot < 0 || dot == len(r)-1 {
		return r, nil
	}
	for _, c := range r[:dot] {
		if c != '.' && c != ' ' {
			return r[:dot], r[dot+1:]
		}
	}
	return r, nil
}

// numericTail tries BASE~1 … BASE~9 like Linux, then a 4-hex-digit
// variant. Linux seeds that variant with jiffies; here it comes from a hash
// of the long name so that output is reproducible. (Linux's numtail base
// lengths, 6 and 2, only differ from these for multi-byte codepage
// characters, which this writer never puts in short names.)
func numericTail(sn shortName, baselen int, name string, exists func(shortName) bool) shortName {
	const numtail, numtail2 = 6, 2
	if baselen > 6 {
		baselen = numtail
		sn[7] = ' '
	}
	sn[baselen] = '~'
	for i := byte(1); i < 10; i++ {
		sn[baselen+1] = '0' + i
		if !exists(sn) {
			return sn
		}
	}
	h := fnv.New32a()
	h.Write([]byte(name))
	i := h.Sum32()
	if baselen > 2 {
		baselen = numtail2
		sn[7] = ' '
	}
	sn[baselen+4] = '~'
	sn[baselen+5] = '1'
	for {
		copy(sn[baselen:], fmt.Sprintf("%04X", i&0xffff))
		if !exists(sn) {
			return sn
		}
		i -= 11
	}
}

func (s shortName) String() string {
	base := strings.TrimRight(string(s[:8]), " ")
	if ext := strings.TrimRight(string(s[8:]), " "); ext != "" {
		return base + "." + ext
	}
	return base
}

// checksum is the long-name checksum of a short name (fatgen103 p. 28).
func (s shortName) checksum() byte {
	var sum byte
	for _, c := range s {
		sum = (sum&1)<<7 + sum>>1 + c
	}
	return sum
}

// longNameSlots encodes name as VFAT long-name entries, in on-disk order
// (last part first).
func longNameSlots(name string, sn shortName) [][dirEntSize]byte {
	u := utf16.Encode([]rune(name))
	n := (len(u) + 12) / 13
	if len(u)%13 != 0 {
		u = append(u, 0)
	}
	for len(u)%13 != 0 {
		u = append(u, 0xFFFF)
	}
	sum := sn.checksum()
	slots := make([][dirEntSize]byte, n)
	for seq := 1; seq <= n; seq++ {
		var d [dirEntSize]byte
		d[0] = byte(seq)
		if seq == n {
			d[0] |= 0x40
		}
		d[11] = attrLongName
		d[13] = sum
		part := u[(seq-1)*13 : seq*13]
		for j, off := range lfnOffsets {
			d[off] = byte(part[j])
			d[off+1] = byte(part[j] >> 8)
		}
		slots[n-seq] = d
	}
	return slots
}

// lfnOffsets are the byte offsets of the 13 UTF-16 units in a long-name
// entry.
var lfnOffsets = [13]int{1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30}
