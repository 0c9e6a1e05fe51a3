package diskformat

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
)

// qcow2 version 3 (qemu "compat=1.1"), docs/interop/qcow2.txt in QEMU.
// Every host cluster is used exactly once, so all refcounts are 1 and every
// L1/L2 entry carries the COPIED flag.
const (
	qcowMagic        = 0x514649fb // "QFI\xfb"
	qcowVersion      = 3
	qcowClusterBits  = 16
	qcowCluster      = int64(1) << qcowClusterBits
	qcowHeaderLen    = 104
	qcowRefcountOrd  = 4 // 16-bit refcounts
	qcowL2Entries    = qcowCluster / 8
	qcowRefsPerBlock = qcowCluster * 8 / (1 << qcowRefcountOrd)
	qcowCopied       = uint64(1) << 63
)

// qcowPlan is the host layout, in clusters: header, L1 table, refcount
// table, refcount blocks, L2 tables, data clusters in guest order.
type qcowPlan struct {
	size                       int64 // guest size in bytes
	l1Entries                  int64
	l1, rt, rb, l2, data       int64 // cluster counts
	l1Off, rtOff, rbOff, l2Off int64 // byte offsets
	dataOff                    int64
	total                      int64 // host clusters
}

// planQCOW2 counts what the data extents need (first pass over the map)
// and places the metadata.
func planQCOW2(exts []Extent) qcowPlan {
	p := qcowPlan{size: alignUp(extentsSize(exts), 512)}
	p.l1Entries = (p.size + qcowCluster*qcowL2Entries - 1) / (qcowCluster * qcowL2Entries)
	p.l1 = max(1, ceilDiv(p.l1Entries*8, qcowCluster))
	lastL2 := int64(-1)
	for off := range dataChunks(exts, qcowCluster) {
		p.data++
		if k := off / qcowCluster / qcowL2Entries; k != lastL2 {
			p.l2++
			lastL2 = k
		}
	}
	meta := 1 + p.l1 + p.l2
	for p.rb, p.rt = 1, 1; ; {
		total := meta + p.rt + p.rb + p.data
		rb := ceilDiv(total, qcowRefsPerBlock)
		rt := ceilDiv(rb*8, qcowCluster)
		if rb == p.rb && rt == p.rt {
			p.total = total
			break
		}
		p.rb, p.rt = rb, rt
	}
	p.l1Off = qcowCluster
	p.rtOff = p.l1Off + p.l1*qcowCluster
	p.rbOff = p.rtOff + p.rt*qcowCluster
	p.l2Off = p.rbOff + p.rb*qcowCluster
	p.dataOff = p.l2Off + p.l2*qcowCluster
	return p
}

func ceilDiv(a, b int64) int64 { return (a + b - 1) / b }

// writeQCOW2 writes the image in one sequential pass: metadata from the
// extent map, then the data clusters read from the raw disk.
func writeQCOW2(ctx context.Context, f *os.File, exts []Extent, dst io.Writer, _ Options) error {
	p := planQCOW2(exts)
	s := newSink(dst)
	steps := []func() error{
		func() error { _, err := s.Write(p.header()); return err },
		func() error { _, err := s.Write(p.l1Table(exts)); return err },
		func() error { _, err := s.Write(p.refcountTable()); return err },
		func() error { return p.writeRefcountBlocks(s) },
		func() error { return p.writeL2Tables(ctx, exts, s) },
		func() error { return p.writeData(ctx, f, exts, s) },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	if s.off != p.total*qcowCluster {
		return fmt.Errorf("qcow2 wrote %d bytes, planned %d", s.off, p.total*qcowCluster)
	}
	return s.finish()
}

func (p qcowPlan) header() []byte {
	b := make([]byte, qcowCluster)
	be := binary.BigEndian
	be.PutUint32(b[0:], qcowMagic)
	be.PutUint32(b[4:], qcowVersion)
	be.PutUint32(b[20:], qcowClusterBits)
	be.PutUint64(b[24:], uint64(p.size))
	be.PutUint32(b[36:], uint32(p.l1Entries))
	be.PutUint64(b[40:], uint64(p.l1Off))
	be.PutUint64(b[48:], uint64(p.rtOff))
	be.PutUint32(b[56:], uint32(p.rt))
	be.PutUint32(b[96:], qcowRefcountOrd)
	be.PutUint32(b[100:], qcowHeaderLen)
	// Bytes 104.. are zero: the end-of-header-extensions marker.
	return b
}

// l1Table points each 512 MiB guest region that holds data at its L2
// table (second pass over the map).
func (p qcowPlan) l1Table(exts []Extent) []byte {
	b := make([]byte, p.l1*qcowCluster)
	n, last := int64(0), int64(-1)
	for off := range dataChunks(exts, qcowCluster) {
		k := off / qcowCluster / qcowL2Entries
		if k == last {
			continue
		}
		binary.BigEndian.PutUint64(b[k*8:], uint64(p.l2Off+n*qcowCluster)|qcowCopied)
		n++
		last = k
	}
	return b
}

func (p qcowPlan) refcountTable() []byte {
	b := make([]byte, p.rt*qcowCluster)
	for j := range p.rb {
		binary.BigEndian.PutUint64(b[j*8:], uint64(p.rbOff+j*qcowCluster))
	}
	return b
}

// writeRefcountBlocks marks host clusters [0, total) with refcount 1.
func (p qcowPlan) writeRefcountBlocks(s *sink) error {
	b := make([]byte, qcowCluster)
	for j := range p.rb {
		clear(b)
		for i := range qcowRefsPerBlock {
			if j*qcowRefsPerBlock+i >= p.total {
				break
			}
			binary.BigEndian.PutUint16(b[i*2:], 1)
		}
		if _, err := s.Write(b); err != nil {
			return err
		}
	}
	return nil
}

// writeL2Tables writes one table per region holding data; the n-th data
// cluster in guest order lives at dataOff + n clusters.
func (p qcowPlan) writeL2Tables(ctx context.Context, exts []Extent, s *sink) error {
	b := make([]byte, qcowCluster)
	n, cur := int64(0), int64(-1)
	flush := func() error {
		if cur < 0 {
			return nil
		}
		_, err := s.Write(b)
		clear(b)
		return err
	}
	for off := range dataChunks(exts, qcowCluster) {
		c := off / qcowCluster
		if k := c / qcowL2Entries; k != cur {
			if err := flush(); err != nil {
				return err
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			cur = k
		}
		binary.BigEndian.PutUint64(b[(c%qcowL2Entries)*8:], uint64(p.dataOff+n*qcowCluster)|qcowCopied)
		n++
	}
	return flush()
}

func (p qcowPlan) writeData(ctx context.Context, f *os.File, exts []Extent, s *sink) error {
	r := newChunkReader(f, exts)
	b := make([]byte, qcowCluster)
	for off := range dataChunks(exts, qcowCluster) {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := r.fill(off, b); err != nil {
			return err
		}
		if _, err := s.Write(b); err != nil {
			return err
		}
	}
	return nil
}
