package diskformat

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"os"
)

// streamOptimized VMDK, VMware "Virtual Disk Format 5.0" (sparse extent
// header, compressed grains with markers, stream metadata markers),
// little-endian.
const (
	vmdkMagic         = 0x564d444b // "KDMV"
	vmdkVersion       = 3
	vmdkFlags         = 1 | 1<<16 | 1<<17 // newline test, compressed grains, markers
	vmdkGrainSectors  = 128
	vmdkGrain         = vmdkGrainSectors * 512
	vmdkGTEs          = 512
	vmdkGTSectors     = vmdkGTEs * 4 / 512
	vmdkDescSectors   = 20  // descriptor space, as VMware's tools reserve
	vmdkOverhead      = 128 // sectors before the first grain
	vmdkGDAtEnd       = ^uint64(0)
	vmdkDeflate       = 1
	vmdkMarkerEOS     = 0
	vmdkMarkerGT      = 1
	vmdkMarkerGD      = 2
	vmdkMarkerFooter  = 3
	vmdkMaxSectorAddr = 1<<32 - 1 // grain table entries are 32-bit sectors
)

// vmdkHeader is the sparse extent header; gdOffset is vmdkGDAtEnd in the
// leading copy and the real grain directory sector in the footer.
func vmdkHeader(capacity, descSectors, gdOffset uint64) []byte {
	b := make([]byte, 512)
	le := binary.LittleEndian
	le.PutUint32(b[0:], vmdkMagic)
	le.PutUint32(b[4:], vmdkVersion)
	le.PutUint32(b[8:], vmdkFlags)
	le.PutUint64(b[12:], capacity)
	le.PutUint64(b[20:], vmdkGrainSectors)
	le.PutUint64(b[28:], 1) // descriptor right after the header
	le.PutUint64(b[36:], descSectors)
	le.PutUint32(b[44:], vmdkGTEs)
	le.PutUint64(b[48:], 0) // no redundant grain directory
	le.PutUint64(b[56:], gdOffset)
	le.PutUint64(b[64:], vmdkOverhead)
	b[72] = 0 // clean
	b[73], b[74], b[75], b[76] = '\n', ' ', '\r', '\n'
	le.PutUint16(b[77:], vmdkDeflate)
	return b
}

// vmdkDescriptor is the embedded text descriptor, padded to
// vmdkDescSectors so that tools which add keys in place have room. The keys
// follow VMware's open-vmdk; ddb.toolsVersion "2147483647" (tools provided
// by the host) is what vSphere expects when it imports an OVA.
func vmdkDescriptor(capacity uint64, seed string) ([]byte, error) {
	cid := crc32.ChecksumIEEE(fmt.Appendf(nil, "%s\x00%d", seed, capacity))
	if cid >= 0xfffffffe { // reserved values
		cid = 0
	}
	long := sha256.Sum256(fmt.Appendf(nil, "%s\x00%d\x00long", seed, capacity))
	d := fmt.Appendf(nil, `# Disk DescriptorFile
version=1
encoding="UTF-8"
CID=%08x
parentCID=ffffffff
createType="streamOptimized"

# Extent description
RW %d SPARSE "disk.vmdk"

# The Disk Data Base
#DDB

ddb.longContentID = "%x"
ddb.virtualHWVersion = "4"
ddb.geometry.cylinders = "%d"
ddb.geometry.heads = "255"
ddb.geometry.sectors = "63"
ddb.adapterType = "lsilogic"
ddb.toolsVersion = "2147483647"
`, cid, capacity, long[:16], min(ceilDiv(int64(capacity), 255*63), 65535))
	if len(d) > vmdkDescSectors*512 {
		return nil, fmt.Errorf("vmdk descriptor of %d bytes: %w", len(d), ErrTooLarge)
	}
	return append(d, make([]byte, vmdkDescSectors*512-len(d))...), nil
}

// vmdkMarker is a metadata marker sector.
func vmdkMarker(numSectors uint64, typ uint32) []byte {
	b := make([]byte, 512)
	binary.LittleEndian.PutUint64(b[0:], numSectors)
	binary.LittleEndian.PutUint32(b[12:], typ)
	return b
}

// vmdkWriter tracks the stream: the grain table being filled, the grain
// directory (4 bytes per 32 MiB of disk) and the output.
type vmdkWriter struct {
	s       *sink
	gt      []byte // current grain table
	gtIndex int64  // index of gt; tables before it are written
	gd      []byte
}

// sector is the current output position in sectors, checked against the
// 32-bit sector addresses of grain tables.
func (w *vmdkWriter) sector() (uint32, error) {
	sec := w.s.off / 512
	if sec > vmdkMaxSectorAddr {
		return 0, fmt.Errorf("vmdk stream passes 2 TiB: %w", ErrTooLarge)
	}
	return uint32(sec), nil
}

// advance writes every grain table before table index k (empty ones too).
func (w *vmdkWriter) advance(k int64) error {
	for ; w.gtIndex < k; w.gtIndex++ {
		if _, err := w.s.Write(vmdkMarker(vmdkGTSectors, vmdkMarkerGT)); err != nil {
			return err
		}
		sec, err := w.sector()
		if err != nil {
			return err
		}
		binary.LittleEndian.PutUint32(w.gd[w.gtIndex*4:], sec)
		if _, err := w.s.Write(w.gt); err != nil {
			return err
		}
		clear(w.gt)
	}
	return nil
}

// grain writes one compressed grain (marker header included in g) for the
// grain at guest offset off.
func (w *vmdkWriter) grain(off int64, g []byte) error {
	idx := off / vmdkGrain
	if err := w.advance(idx / vmdkGTEs); err != nil {
		return err
	}
	sec, err := w.sector()
	if err != nil {
		return err
	}
	binary.LittleEndian.PutUint32(w.gt[(idx%vmdkGTEs)*4:], sec)
	_, err = w.s.Write(g)
	return err
}

// writeVMDK streams the grains that hold non-zero data, then the grain
// tables still due, the grain directory, the footer and end of stream.
func writeVMDK(ctx context.Context, f *os.File, exts []Extent, dst io.Writer, opts Options) error {
	capacity := uint64(ceilDiv(extentsSize(exts), 512))
	gdEntries := max(1, ceilDiv(int64(capacity), vmdkGrainSectors*vmdkGTEs))
	desc, err := vmdkDescriptor(capacity, opts.Seed)
	if err != nil {
		return err
	}
	descSectors := uint64(vmdkDescSectors)
	w := &vmdkWriter{s: newSink(dst), gt: make([]byte, vmdkGTEs*4), gd: make([]byte, alignUp(gdEntries*4, 512))}
	if _, err := w.s.Write(vmdkHeader(capacity, descSectors, vmdkGDAtEnd)); err != nil {
		return err
	}
	if _, err := w.s.Write(desc); err != nil {
		return err
	}
	if err := w.s.zero(ctx, vmdkOverhead*512-w.s.off); err != nil {
		return err
	}
	level, _ := opts.level()
	if err := compressGrains(ctx, f, exts, level, opts.workers(), w.grain); err != nil {
		return err
	}
	if err := w.advance(gdEntries); err != nil {
		return err
	}
	if _, err := w.s.Write(vmdkMarker(uint64(len(w.gd)/512), vmdkMarkerGD)); err != nil {
		return err
	}
	gdSector, err := w.sector()
	if err != nil {
		return err
	}
	tail := [][]byte{
		w.gd,
		vmdkMarker(1, vmdkMarkerFooter),
		vmdkHeader(capacity, descSectors, uint64(gdSector)),
		vmdkMarker(0, vmdkMarkerEOS),
	}
	for _, b := range tail {
		if _, err := w.s.Write(b); err != nil {
			return err
		}
	}
	return w.s.finish()
}
