package fat

import (
	"errors"
	"fmt"

	"github.com/elemental-suite/elemental/internal/rootfs"
)

const (
	sectorSize  = 512
	numFATs     = 2
	rootEntries = 512 // FAT12/16 root directory slots, as mkfs.fat
	dirEntSize  = 32

	// Cluster count limits that decide the FAT type (fatgen103 p. 14).
	maxClusters12 = 4084
	maxClusters16 = 65524
	maxClusters32 = 0x0FFFFFF5 - 2

	fat32Reserved = 32
	fat32RootClus = 2
)

// ErrTooSmall is wrapped by New when the filesystem does not fit in size.
var ErrTooSmall = errors.New("too small for a FAT filesystem")

// geometry is the on-disk layout of one filesystem.
type geometry struct {
	fatType      int // 12, 16 or 32
	totalSectors int64
	secPerClus   int64
	reserved     int64
	fatSectors   int64
	rootDirSecs  int64 // 0 on FAT32
	dataStart    int64 // first sector of cluster 2
	clusters     int64 // data clusters, numbered 2..clusters+1
	clusterSize  int64 // bytes
}

// fat32SecPerClus follows mkfs.fat (after Microsoft's format): 4 KiB
// clusters up to 8 GiB, then 8, 16 and 32 KiB.
func fat32SecPerClus(size int64) int64 {
	switch gib := int64(1 << 30); {
	case size <= 8*gib:
		return 8
	case size <= 16*gib:
		return 16
	case size <= 32*gib:
		return 32
	}
	return 64
}

// planGeometry picks the layout for a filesystem of size bytes. fatType 0
// means automatic: FAT32 from 512 MiB, below that FAT12 if the clusters fit
// and FAT16 otherwise, as mkfs.fat does.
func planGeometry(size int64, fatType int) (geometry, error) {
	total := size / sectorSize
	switch fatType {
	case 0:
		if size >= 512<<20 {
			return fitGeometry(total, 32, fat32SecPerClus(size))
		}
		if layout(total, 12, 4).clusters <= maxClusters12 {
			return fitGeometry(total, 12, 4)
		}
		return fitGeometry(total, 16, 4)
	case 12, 16:
		return fitGeometry(total, fatType, 4)
	case 32:
		return fitGeometry(total, 32, fat32SecPerClus(size))
	}
	return geometry{}, fmt.Errorf("FAT type %d is not 0, 12, 16 or 32", fatType)
}

// fitGeometry starts from spc sectors per cluster and doubles or halves it
// until the cluster count is in the range that identifies fatType.
func fitGeometry(total int64, fatType int, spc int64) (geometry, error) {
	lo, hi := int64(1), int64(maxClusters12)
	switch fatType {
	case 16:
		lo, hi = maxClusters12+1, maxClusters16
	case 32:
		lo, hi = maxClusters16+1, maxClusters32
	}
	for spc >= 1 && spc <= 128 {
		g := layout(total, fatType, spc)
		switch {
		case g.clusters > hi:
			spc *= 2
		case g.clusters < lo && spc > 1 && layout(total, fatType, spc/2).clusters <= hi:
			spc /= 2
		case g.clusters < lo:
			return geometry{}, fmt.Errorf("%w: %d sectors give %d clusters, FAT%d needs at least %d", ErrTooSmall, total, g.clusters, fatType, lo)
		default:
			return g, nil
		}
	}
	return geometry{}, fmt.Errorf("%d sectors do not fit FAT%d with clusters of at most 64 KiB", total, fatType)
}

// layout computes the layout for a fixed cluster size. The FAT size is
// found by iteration, and the reserved area grows so that the data area
// starts on a cluster boundary, like mkfs.fat's default alignment (which
// it skips for floppy-sized volumes of 8192 sectors or less).
func layout(total int64, fatType int, spc int64) geometry {
	align := total > 8192
	g := geometry{fatType: fatType, totalSectors: total, secPerClus: spc, clusterSize: spc * sectorSize, reserved: 1}
	if fatType == 32 {
		g.reserved = fat32Reserved
	} else {
		g.rootDirSecs = rootEntries * dirEntSize / sectorSize
	}
	for range 8 {
		g.dataStart = g.reserved + numFATs*g.fatSectors + g.rootDirSecs
		if rem := g.dataStart % spc; align && rem != 0 {
			g.reserved += spc - rem
			g.dataStart += spc - rem
		}
		g.clusters = max(0, (total-g.dataStart)/spc)
		need := (fatBits(fatType)*(g.clusters+2) + 8*sectorSize - 1) / (8 * sectorSize)
		if need <= g.fatSectors {
			break
		}
		g.fatSectors = need
	}
	return g
}

func fatBits(fatType int) int64 {
	if fatType == 12 {
		return 12
	}
	if fatType == 16 {
		return 16
	}
	return 32
}

// MinSize returns a size in bytes, a multiple of 1 MiB, that holds the
// entries summarised by s in a filesystem of the automatic FAT type, with a
// margin for long names and for parent directories that the stream only
// implies.
func MinSize(s rootfs.Stats) int64 {
	const mib = 1 << 20
	size := int64(mib)
	for range 64 {
		g, err := planGeometry(size, 0)
		if err == nil {
			need := clustersNeeded(s, g.clusterSize)
			if g.clusters >= need {
				return size
			}
			size += (need - g.clusters) * g.clusterSize
		} else {
			size += mib
		}
		size = (size + mib - 1) / mib * mib
	}
	return size
}

// clustersNeeded bounds from above the clusters that s needs with clusters
// of cs bytes.
func clustersNeeded(s rootfs.Stats, cs int64) int64 {
	var files int64
	if 4096%cs == 0 {
		files = s.DataBlocks * (4096 / cs)
	} else {
		files = (s.DataBytes+cs-1)/cs + s.Files
	}
	// Each entry takes a short entry plus one long-name slot per 13
	// characters (+1 for rounding); each directory adds "." and "..", the
	// root a label, and each directory may leave a partial cluster.
	slots := 2*s.Entries + (s.NameBytes+12)/13 + 2*s.Dirs + 1
	dirs := slots*dirEntSize/cs + s.Dirs + 1
	need := files + dirs + 16
	return need + need/64
}
