package gpt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"unicode/utf16"

	"github.com/google/uuid"
)

// ErrNoGPT is returned by Read when neither a 512- nor a 4096-byte sector
// 1 holds a GPT header signature.
var ErrNoGPT = errors.New("no GPT header found")

// ErrCorrupt is wrapped by Read errors about checksums and inconsistent
// headers.
var ErrCorrupt = errors.New("corrupt GPT")

// header is the part of a GPT header Read needs.
type header struct {
	my, alternate, entriesAt LBA
	numEntries, entrySize    uint32
	entriesCRC               uint32
	first, last              LBA
	raw                      []byte
}

// Read parses the primary GPT of a disk of diskSize bytes, checks both
// headers' and entry arrays' CRC32s, and checks that the backup (found
// through the primary's alternate LBA, which need not be the disk's last
// sector after the disk has grown) describes the same partitions. Entries
// must be used contiguously from the first; the table's sector size is
// detected.
func Read(r io.ReaderAt, diskSize int64) (*Table, error) {
	t, err := read(r, diskSize)
	if err != nil {
		return nil, fmt.Errorf("reading GPT: %w", err)
	}
	return t, nil
}

func read(r io.ReaderAt, diskSize int64) (*Table, error) {
	ss, err := detectSectorSize(r)
	if err != nil {
		return nil, err
	}
	primary, err := readHeader(r, ss, 1)
	if err != nil {
		return nil, fmt.Errorf("primary header: %w", err)
	}
	if primary.alternate.Bytes(ss) >= diskSize {
		return nil, fmt.Errorf("%w: backup header at sector %d is beyond the %d-byte disk", ErrCorrupt, primary.alternate, diskSize)
	}
	entries, err := readEntries(r, ss, primary)
	if err != nil {
		return nil, fmt.Errorf("primary entries: %w", err)
	}
	backup, err := readHeader(r, ss, primary.alternate)
	if err != nil {
		return nil, fmt.Errorf("backup header: %w", err)
	}
	if _, err := readEntries(r, ss, backup); err != nil {
		return nil, fmt.Errorf("backup entries: %w", err)
	}
	if backup.entriesCRC != primary.entriesCRC || backup.alternate != 1 {
		return nil, fmt.Errorf("%w: backup header does not match the primary", ErrCorrupt)
	}
	t := &Table{DiskGUID: getGUID(primary.raw[56:72]), SectorSize: ss}
	t.Partitions, err = decodeEntries(entries)
	return t, err
}

func detectSectorSize(r io.ReaderAt) (int64, error) {
	sig := make([]byte, len(sigGPT))
	for _, ss := range []int64{512, 4096} {
		if _, err := r.ReadAt(sig, ss); err != nil && !errors.Is(err, io.EOF) {
			return 0, fmt.Errorf("reading sector 1: %w", err)
		}
		if string(sig) == sigGPT {
			return ss, nil
		}
	}
	return 0, ErrNoGPT
}

func readHeader(r io.ReaderAt, ss int64, at LBA) (*header, error) {
	b := make([]byte, ss)
	if _, err := r.ReadAt(b, at.Bytes(ss)); err != nil {
		return nil, fmt.Errorf("reading sector %d: %w", at, err)
	}
	le := binary.LittleEndian
	if string(b[:8]) != sigGPT {
		return nil, fmt.Errorf("%w: no signature at sector %d", ErrCorrupt, at)
	}
	size := le.Uint32(b[12:])
	if size < headerSize || int64(size) > ss {
		return nil, fmt.Errorf("%w: header size %d", ErrCorrupt, size)
	}
	want := le.Uint32(b[16:])
	h := append([]byte(nil), b[:size]...)
	clear(h[16:20])
	if got := crc32.ChecksumIEEE(h); got != want {
		return nil, fmt.Errorf("%w: header CRC32 is %#08x, computed %#08x", ErrCorrupt, want, got)
	}
	hd := &header{
		my: LBA(le.Uint64(b[24:])), alternate: LBA(le.Uint64(b[32:])),
		first: LBA(le.Uint64(b[40:])), last: LBA(le.Uint64(b[48:])),
		entriesAt: LBA(le.Uint64(b[72:])), numEntries: le.Uint32(b[80:]),
		entrySize: le.Uint32(b[84:]), entriesCRC: le.Uint32(b[88:]), raw: b,
	}
	if hd.my != at {
		return nil, fmt.Errorf("%w: header at sector %d says it is at %d", ErrCorrupt, at, hd.my)
	}
	if hd.numEntries != NumEntries || hd.entrySize != EntrySize {
		return nil, fmt.Errorf("%w: %d entries of %d bytes; only %d of %d are supported", ErrCorrupt, hd.numEntries, hd.entrySize, NumEntries, EntrySize)
	}
	return hd, nil
}

func readEntries(r io.ReaderAt, ss int64, h *header) ([]byte, error) {
	b := make([]byte, entryArrayBytes)
	if _, err := r.ReadAt(b, h.entriesAt.Bytes(ss)); err != nil {
		return nil, fmt.Errorf("reading sector %d: %w", h.entriesAt, err)
	}
	if got := crc32.ChecksumIEEE(b); got != h.entriesCRC {
		return nil, fmt.Errorf("%w: entry array CRC32 is %#08x, computed %#08x", ErrCorrupt, h.entriesCRC, got)
	}
	return b, nil
}

func decodeEntries(b []byte) ([]Partition, error) {
	var ps []Partition
	gap := -1
	for i := range NumEntries {
		e := b[i*EntrySize : (i+1)*EntrySize]
		p := Partition{Type: getGUID(e[0:16])}
		if p.Type == uuid.Nil {
			if gap < 0 {
				gap = i
			}
			continue
		}
		if gap >= 0 {
			return nil, fmt.Errorf("entry %d is used after unused entry %d: tables with gaps are not supported", i+1, gap+1)
		}
		p.GUID = getGUID(e[16:32])
		p.First = LBA(binary.LittleEndian.Uint64(e[32:]))
		p.Last = LBA(binary.LittleEndian.Uint64(e[40:]))
		p.Attributes = binary.LittleEndian.Uint64(e[48:])
		p.Name = decodeName(e[56:128])
		ps = append(ps, p)
	}
	return ps, nil
}

func decodeName(b []byte) string {
	u := make([]uint16, 0, MaxNameLen)
	for j := 0; j < len(b); j += 2 {
		c := binary.LittleEndian.Uint16(b[j:])
		if c == 0 {
			break
		}
		u = append(u, c)
	}
	return string(utf16.Decode(u))
}
