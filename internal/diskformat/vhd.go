package diskformat

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/google/uuid"
)

// VHD fixed-disk footer, Microsoft "Virtual Hard Disk Image Format
// Specification" 1.0, big-endian.
const (
	vhdFooterSize   = 512
	vhdAlign        = mib // Azure requires a 1 MiB aligned virtual size
	vhdFeatures     = 0x00000002
	vhdVersion      = 0x00010000
	vhdFixedOffset  = ^uint64(0)
	vhdCreatorVer   = 0x00010000
	vhdHostWi2k     = 0x5769326B // "Wi2k"
	vhdTypeFixed    = 2
	vhdMaxCHSectors = 65535 * 16 * 255
)

// vhdEpoch is where VHD timestamps count from.
var vhdEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// vhdNamespace scopes the VHD unique ids derived from Options.Seed.
var vhdNamespace = uuid.MustParse("5d0d1b6e-5c38-4b7e-9f54-0e1c3a7d6a11")

// writeVHD is the fixed VHD format: the raw disk padded to 1 MiB, then the
// footer.
func writeVHD(ctx context.Context, f *os.File, exts []Extent, dst io.Writer, opts Options) error {
	size := alignUp(extentsSize(exts), vhdAlign)
	if size == 0 {
		size = vhdAlign
	}
	s := newSink(dst)
	if err := writeExtents(ctx, f, exts, s); err != nil {
		return err
	}
	if err := s.zero(ctx, size-s.off); err != nil {
		return err
	}
	if _, err := s.Write(vhdFooter(size, opts)); err != nil {
		return err
	}
	return s.finish()
}

// vhdFooter builds the 512-byte footer of a fixed disk of size bytes.
func vhdFooter(size int64, opts Options) []byte {
	b := make([]byte, vhdFooterSize)
	be := binary.BigEndian
	copy(b[0:8], "conectix")
	be.PutUint32(b[8:], vhdFeatures)
	be.PutUint32(b[12:], vhdVersion)
	be.PutUint64(b[16:], vhdFixedOffset)
	be.PutUint32(b[24:], vhdTimestamp(opts.Time))
	// Creator application "win " (Hyper-V) tells readers such as QEMU to
	// take the size from the footer rather than the CHS geometry, which
	// cannot express every 1 MiB multiple.
	copy(b[28:32], "win ")
	be.PutUint32(b[32:], vhdCreatorVer)
	be.PutUint32(b[36:], vhdHostWi2k)
	be.PutUint64(b[40:], uint64(size)) // original size
	be.PutUint64(b[48:], uint64(size)) // current size
	c, h, spt := vhdGeometry(size / 512)
	be.PutUint16(b[56:], c)
	b[58], b[59] = h, spt
	be.PutUint32(b[60:], vhdTypeFixed)
	id := uuid.NewSHA1(vhdNamespace, fmt.Appendf(nil, "%s\x00%d\x00%d", opts.Seed, size, vhdTimestamp(opts.Time)))
	copy(b[68:84], id[:])
	be.PutUint32(b[64:], vhdChecksum(b))
	return b
}

// vhdTimestamp is seconds since 2000-01-01 UTC, clamped to the field.
func vhdTimestamp(t time.Time) uint32 {
	if t.IsZero() || t.Before(vhdEpoch) {
		return 0
	}
	return uint32(min(t.Unix()-vhdEpoch.Unix(), 1<<32-1))
}

// vhdChecksum is the one's complement of the byte sum, checksum field
// excluded.
func vhdChecksum(b []byte) uint32 {
	var sum uint32
	for i, x := range b {
		if i >= 64 && i < 68 {
			continue
		}
		sum += uint32(x)
	}
	return ^sum
}

// vhdGeometry is the CHS algorithm of the VHD specification, appendix
// "CHS Calculation".
func vhdGeometry(sectors int64) (cyl uint16, heads, spt uint8) {
	sectors = min(sectors, vhdMaxCHSectors)
	var h, s, cth int64
	if sectors >= 65535*16*63 {
		s, h = 255, 16
		cth = sectors / s
	} else {
		s = 17
		cth = sectors / s
		h = max((cth+1023)/1024, 4)
		if cth >= h*1024 || h > 16 {
			s, h = 31, 16
			cth = sectors / s
		}
		if cth >= h*1024 {
			s, h = 63, 16
			cth = sectors / s
		}
	}
	return uint16(cth / h), uint8(h), uint8(s)
}

// alignUp rounds n up to a multiple of a.
func alignUp(n, a int64) int64 { return (n + a - 1) / a * a }
