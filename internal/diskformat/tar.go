package diskformat

import (
	"fmt"
	"strconv"
)

// GNU tar "oldgnu" sparse member layout (GNU tar manual, "Storing Sparse
// Files" and src/tar.h struct oldgnu_header / sparse_header).
const (
	tarBlock         = 512
	tarRecord        = 20 * tarBlock // GNU tar's default blocking factor
	tarSparseInHdr   = 4
	tarSparseInExt   = 21
	tarTypeGNUSparse = 'S'
	tarMagicOldGNU   = "ustar  \x00" // magic "ustar " + version " \0"
)

// sparseEntry is one data run of a sparse tar member.
type sparseEntry struct{ Offset, Length int64 }

// oldGNUSparseHeader is the member header for a regular file of realSize
// bytes whose data runs are entries, plus as many extension headers as the
// entries past the first four need.
type oldGNUSparseHeader struct {
	Name     string
	Mode     int64
	MTime    int64
	RealSize int64
	Entries  []sparseEntry
}

// marshal encodes the header blocks. Numbers that do not fit in octal use
// GNU base-256.
func (h oldGNUSparseHeader) marshal() ([]byte, error) {
	if len(h.Name) > 100 {
		return nil, fmt.Errorf("tar member name %q longer than 100 bytes: %w", h.Name, ErrInvalidOption)
	}
	nExt := 0
	if len(h.Entries) > tarSparseInHdr {
		nExt = (len(h.Entries) - tarSparseInHdr + tarSparseInExt - 1) / tarSparseInExt
	}
	out := make([]byte, (1+nExt)*tarBlock)
	b := out[:tarBlock]
	var stored int64
	for _, e := range h.Entries {
		stored += e.Length
	}
	copy(b[0:100], h.Name)
	putTarNumber(b[100:108], h.Mode)
	putTarNumber(b[108:116], 0) // uid
	putTarNumber(b[116:124], 0) // gid
	putTarNumber(b[124:136], stored)
	putTarNumber(b[136:148], h.MTime)
	b[156] = tarTypeGNUSparse
	copy(b[257:265], tarMagicOldGNU)
	copy(b[265:297], "root")
	copy(b[297:329], "root")
	rest := putSparse(b[386:482], h.Entries, tarSparseInHdr)
	if len(rest) > 0 {
		b[482] = 1 // isextended
	}
	putTarNumber(b[483:495], h.RealSize)
	putTarChecksum(b)
	for i := range nExt {
		x := out[(1+i)*tarBlock : (2+i)*tarBlock]
		rest = putSparse(x[0:504], rest, tarSparseInExt)
		if len(rest) > 0 {
			x[504] = 1
		}
	}
	return out, nil
}

// putSparse fills up to n 24-byte (offset, numbytes) slots and returns the
// entries left over.
func putSparse(b []byte, entries []sparseEntry, n int) []sparseEntry {
	k := min(n, len(entries))
	for i, e := range entries[:k] {
		putTarNumber(b[i*24:i*24+12], e.Offset)
		putTarNumber(b[i*24+12:i*24+24], e.Length)
	}
	return entries[k:]
}

// putTarNumber writes v as zero-padded octal with a NUL terminator, or in
// GNU base-256 (0x80 then big-endian) when octal would not fit.
func putTarNumber(b []byte, v int64) {
	digits := len(b) - 1
	if v >= 0 && v < int64(1)<<(3*digits) {
		s := strconv.FormatInt(v, 8)
		for i := range digits - len(s) {
			b[i] = '0'
		}
		copy(b[digits-len(s):], s)
		b[digits] = 0
		return
	}
	for i := len(b) - 1; i > 0; i-- {
		b[i] = byte(v)
		v >>= 8
	}
	b[0] = 0x80
}

// putTarChecksum stores the unsigned byte sum of the header, counting the
// checksum field as spaces, as six octal digits, NUL and space.
func putTarChecksum(b []byte) {
	copy(b[148:156], "        ")
	var sum int64
	for _, x := range b[:tarBlock] {
		sum += int64(x)
	}
	s := strconv.FormatInt(sum, 8)
	copy(b[148:154], fmt.Sprintf("%06s", s))
	b[154], b[155] = 0, ' '
}
