package squashfs

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"fmt"
	"io"
	"testing"
)

// unpackMeta decompresses a gzip metadata table and returns its bytes and
// the uncompressed offset of every block by its table offset.
func unpackMeta(t *testing.T, table []byte) ([]byte, map[uint32]int) {
	t.Helper()
	var out []byte
	starts := map[uint32]int{}
	for off := 0; off < len(table); {
		hdr := binary.LittleEndian.Uint16(table[off:])
		n := int(hdr &^ metaUncompressed)
		starts[uint32(off)] = len(out)
		block := table[off+2 : off+2+n]
		if hdr&metaUncompressed == 0 {
			r, err := zlib.NewReader(bytes.NewReader(block))
			if err != nil {
				t.Fatal(err)
			}
			if block, err = io.ReadAll(r); err != nil {
				t.Fatal(err)
			}
		}
		out = append(out, block...)
		off += 2 + n
	}
	return out, starts
}

// TestDirectoryIndex checks that a large directory gets index entries
// that point, the way the kernel computes it, at a header whose first
// name is the index name, and that the headers cover every entry.
func TestDirectoryIndex(t *testing.T) {
	c, err := newCompressor(Gzip, metaSize)
	if err != nil {
		t.Fatal(err)
	}
	b := &builder{inodes: newMetaWriter(c), dirs: newMetaWriter(c), idIdx: map[uint32]uint16{}}
	b.dirs.Write(make([]byte, 5000)) // start the listing mid-block
	var ents []dirEnt
	var names []byte
	for i := range 3000 {
		// Inodes spread over several inode blocks, numbers in order.
		names = fmt.Appendf(names, "entry-%05d", i)
		ents = append(ents, dirEnt{typ: inoFile, ino: uint32(i + 1), ref: uint64(i/400*7000)<<16 | uint64(i%400*20), end: uint32(len(names))})
	}
	l, err := b.listing(ents, names)
	if err != nil {
		t.Fatal(err)
	}
	table, err := b.dirs.bytes()
	if err != nil {
		t.Fatal(err)
	}
	raw, starts := unpackMeta(t, table)
	if len(l.index) < 3 {
		t.Fatalf("listing of %d bytes has %d index entries, want at least 3", l.size, len(l.index))
	}
	begin := starts[l.block] + int(l.offset)
	for _, ix := range l.index {
		pos := starts[ix.block] + (int(ix.index)+int(l.offset))%metaSize
		if pos != begin+int(ix.index) {
			t.Errorf("index %q: block %d offset leads to %d, header is at %d", ix.name, ix.block, pos, begin+int(ix.index))
		}
		size := binary.LittleEndian.Uint16(raw[pos+12+6:])
		if name := string(raw[pos+12+8 : pos+12+8+int(size)+1]); name != ix.name {
			t.Errorf("index %q points at a header whose first entry is %q", ix.name, name)
		}
	}
	var covered int
	for pos := begin; pos < begin+int(l.size); {
		count := int(binary.LittleEndian.Uint32(raw[pos:])) + 1
		if count > maxDirRun {
			t.Fatalf("header at %d has %d entries", pos, count)
		}
		pos += 12
		for range count {
			pos += 8 + int(binary.LittleEndian.Uint16(raw[pos+6:])) + 1
			covered++
		}
	}
	if covered != len(ents) {
		t.Errorf("headers cover %d entries, want %d", covered, len(ents))
	}
}
