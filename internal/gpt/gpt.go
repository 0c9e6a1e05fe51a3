package gpt

import (
	"errors"
	"fmt"

	"github.com/google/uuid"
)

// LBA is a logical block address: a sector number on the disk, counted in
// units of the table's sector size.
type LBA int64

// Bytes returns the byte offset of l for the given sector size.
func (l LBA) Bytes(sectorSize int64) int64 { return int64(l) * sectorSize }

// Partition type GUIDs used by Elemental disks (sgdisk codes EF00, 8300,
// EF02).
var (
	TypeESP      = uuid.MustParse("C12A7328-F81F-11D2-BA4B-00A0C93EC93B")
	TypeLinux    = uuid.MustParse("0FC63DAF-8483-4772-8E79-3D69D8477DE4")
	TypeBIOSBoot = uuid.MustParse("21686148-6449-6E6F-744E-656564454649")
)

const (
	// DefaultSectorSize is used when Table.SectorSize is zero.
	DefaultSectorSize = 512
	// NumEntries is the number of partition entries in each array.
	NumEntries = 128
	// EntrySize is the size in bytes of one partition entry.
	EntrySize = 128
	// MaxNameLen is the longest partition name, in UTF-16 code units.
	MaxNameLen = 36

	entryArrayBytes = NumEntries * EntrySize
)

// Partition is one entry of the table.
type Partition struct {
	// Name is the partition label (PARTLABEL), at most MaxNameLen UTF-16
	// code units.
	Name string
	// Type is the partition type GUID, e.g. TypeESP.
	Type uuid.UUID
	// GUID is the unique partition GUID (PARTUUID).
	GUID uuid.UUID
	// First and Last are the first and last sectors, both inclusive.
	First, Last LBA
	// Attributes holds the GPT attribute bits; Elemental sets none.
	Attributes uint64
}

// Size returns the partition's length in bytes.
func (p Partition) Size(sectorSize int64) int64 { return int64(p.Last-p.First+1) * sectorSize }

// Table is a GPT planned as data. Partitions[i] is written to entry i.
type Table struct {
	DiskGUID uuid.UUID
	// SectorSize is the logical sector size in bytes: 512 (the default when
	// zero) or 4096.
	SectorSize int64
	Partitions []Partition
}

func (t *Table) sectorSize() int64 {
	if t.SectorSize == 0 {
		return DefaultSectorSize
	}
	return t.SectorSize
}

// entrySectors is the number of sectors one entry array takes.
func entrySectors(sectorSize int64) LBA {
	return LBA((entryArrayBytes + sectorSize - 1) / sectorSize)
}

// FirstUsable returns the first sector a partition may use: after the
// protective MBR, the primary header and the primary entry array.
func FirstUsable(sectorSize int64) LBA { return 2 + entrySectors(sectorSize) }

// LastUsable returns the last sector a partition may use on a disk of
// diskSize bytes: before the backup entry array and the backup header.
func LastUsable(diskSize, sectorSize int64) LBA {
	return LBA(diskSize/sectorSize) - 2 - entrySectors(sectorSize)
}

// guidNamespace is the fixed UUIDv5 namespace GUIDFromSeed hashes in.
var guidNamespace = uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://github.com/elemental-suite/elemental/internal/gpt"))

// GUIDFromSeed derives a GUID from a seed (for example an image digest) and
// a label (such as a partition name or "disk"). The same inputs always give
// the same RFC 4122 version 5 UUID, so images are reproducible.
func GUIDFromSeed(seed []byte, label string) uuid.UUID {
	data := make([]byte, 0, len(seed)+1+len(label))
	data = append(data, seed...)
	data = append(data, 0)
	data = append(data, label...)
	return uuid.NewSHA1(guidNamespace, data)
}

// ErrNoPartitions is returned by ResizeLast for an empty table.
var ErrNoPartitions = errors.New("table has no partitions")

// ResizeLast prepares t for a disk that has grown to diskSize bytes: the
// partition that ends last is extended to LastUsable(diskSize). Writing t
// with Write(w, diskSize) afterwards puts the backup GPT at the new end of
// the disk, which is what `sgdisk -e` followed by recreating the last
// partition does.
func (t *Table) ResizeLast(diskSize int64) error {
	if len(t.Partitions) == 0 {
		return fmt.Errorf("resizing last partition: %w", ErrNoPartitions)
	}
	last := 0
	for i, p := range t.Partitions {
		if p.Last > t.Partitions[last].Last {
			last = i
		}
	}
	p := &t.Partitions[last]
	end := LastUsable(diskSize, t.sectorSize())
	if end < p.Last {
		return fmt.Errorf("resizing partition %d (%q) to end at sector %d: disk of %d bytes is smaller than the partition, which ends at %d", last+1, p.Name, end, diskSize, p.Last)
	}
	p.Last = end
	return t.Validate(diskSize)
}
