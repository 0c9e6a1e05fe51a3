package gpt

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"unicode/utf16"

	"github.com/google/uuid"
)

const (
	headerSize  = 92
	revision    = 0x00010000
	mbrTypeGPT  = 0xEE
	sigGPT      = "EFI PART"
	maxMBRCount = 0xFFFFFFFF
)

// Write validates t and writes the protective MBR, the primary header and
// entry array, and the backup entry array and header at the end of a disk
// of diskSize bytes. Only the table's own sectors are written; partition
// contents are left alone.
func (t *Table) Write(w io.WriterAt, diskSize int64) error {
	if err := t.Validate(diskSize); err != nil {
		return err
	}
	ss := t.sectorSize()
	entries := t.encodeEntries()
	lastLBA := LBA(diskSize/ss) - 1
	backupEntries := lastLBA - entrySectors(ss)
	primary := t.encodeHeader(ss, 1, lastLBA, 2, diskSize, entries)
	backup := t.encodeHeader(ss, lastLBA, 1, backupEntries, diskSize, entries)
	writes := []struct {
		what string
		at   LBA
		data []byte
	}{
		{"protective MBR", 0, protectiveMBR(ss, lastLBA)},
		{"primary GPT header", 1, primary},
		{"primary partition entries", 2, entries},
		{"backup partition entries", backupEntries, entries},
		{"backup GPT header", lastLBA, backup},
	}
	for _, wr := range writes {
		if _, err := w.WriteAt(wr.data, wr.at.Bytes(ss)); err != nil {
			return fmt.Errorf("writing %s at sector %d: %w", wr.what, wr.at, err)
		}
	}
	return nil
}

// protectiveMBR returns sector 0: one partition of type 0xEE covering the
// disk from LBA 1 (capped at 2^32-1 sectors), as UEFI §5.2.3 requires.
func protectiveMBR(ss int64, lastLBA LBA) []byte {
	b := make([]byte, ss)
	e := b[446:462]
	e[0] = 0x00                         // not bootable
	e[1], e[2], e[3] = 0x00, 0x02, 0x00 // CHS of LBA 1
	e[4] = mbrTypeGPT
	e[5], e[6], e[7] = 0xFF, 0xFF, 0xFF // CHS beyond addressing
	binary.LittleEndian.PutUint32(e[8:], 1)
	binary.LittleEndian.PutUint32(e[12:], uint32(min(int64(lastLBA), maxMBRCount)))
	b[510], b[511] = 0x55, 0xAA
	return b
}

func (t *Table) encodeEntries() []byte {
	b := make([]byte, int64(entrySectors(t.sectorSize()))*t.sectorSize())
	for i, p := range t.Partitions {
		e := b[i*EntrySize : (i+1)*EntrySize]
		putGUID(e[0:16], p.Type)
		putGUID(e[16:32], p.GUID)
		binary.LittleEndian.PutUint64(e[32:], uint64(p.First))
		binary.LittleEndian.PutUint64(e[40:], uint64(p.Last))
		binary.LittleEndian.PutUint64(e[48:], p.Attributes)
		for j, u := range utf16.Encode([]rune(p.Name)) {
			binary.LittleEndian.PutUint16(e[56+2*j:], u)
		}
	}
	return b
}

// encodeHeader returns one header sector. entries is the encoded array
// (its first NumEntries*EntrySize bytes are covered by the CRC).
func (t *Table) encodeHeader(ss int64, my, alternate, entriesAt LBA, diskSize int64, entries []byte) []byte {
	b := make([]byte, ss)
	le := binary.LittleEndian
	copy(b, sigGPT)
	le.PutUint32(b[8:], revision)
	le.PutUint32(b[12:], headerSize)
	le.PutUint64(b[24:], uint64(my))
	le.PutUint64(b[32:], uint64(alternate))
	le.PutUint64(b[40:], uint64(FirstUsable(ss)))
	le.PutUint64(b[48:], uint64(LastUsable(diskSize, ss)))
	putGUID(b[56:72], t.DiskGUID)
	le.PutUint64(b[72:], uint64(entriesAt))
	le.PutUint32(b[80:], NumEntries)
	le.PutUint32(b[84:], EntrySize)
	le.PutUint32(b[88:], crc32.ChecksumIEEE(entries[:entryArrayBytes]))
	le.PutUint32(b[16:], crc32.ChecksumIEEE(b[:headerSize]))
	return b
}

// putGUID stores u in GPT's mixed-endian layout: the first three fields
// little-endian, the last two as bytes.
func putGUID(b []byte, u uuid.UUID) {
	b[0], b[1], b[2], b[3] = u[3], u[2], u[1], u[0]
	b[4], b[5] = u[5], u[4]
	b[6], b[7] = u[7], u[6]
	copy(b[8:16], u[8:16])
}

func getGUID(b []byte) uuid.UUID {
	var u uuid.UUID
	u[0], u[1], u[2], u[3] = b[3], b[2], b[1], b[0]
	u[4], u[5] = b[5], b[4]
	u[6], u[7] = b[7], b[6]
	copy(u[8:16], b[8:16])
	return u
}
