package ext4

import (
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// Kind selects the on-disk flavour.
type Kind int

// Filesystem kinds. The zero value is KindUnknown so that a forgotten field
// is an error.
const (
	KindUnknown Kind = iota
	KindExt2
	KindExt4
)

func (k Kind) String() string {
	switch k {
	case KindExt2:
		return "ext2"
	case KindExt4:
		return "ext4"
	case KindUnknown:
		return "unknown"
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// ErrNoSpace is returned, wrapped and naming the file, when data, metadata
// or inodes do not fit in the filesystem.
var ErrNoSpace = errors.New("no space left in filesystem")

// Options describe the filesystem to create.
type Options struct {
	// Kind is KindExt2 or KindExt4.
	Kind Kind
	// Journal creates an empty jbd2 journal (inode 8) sized like mke2fs
	// would for the filesystem size. Ext4 only.
	Journal bool
	// Label is the volume label, at most 16 bytes.
	Label string
	// UUID is the filesystem UUID; HashSeed seeds directory hashing.
	UUID     uuid.UUID
	HashSeed uuid.UUID
	// Time is the mkfs/write time and the time of lost+found and of
	// directories created implicitly. The zero value means the Unix epoch.
	Time time.Time
	// BlockSize is 1024, 2048 or 4096 (the default when 0).
	BlockSize int
	// Inodes is the number of inodes; 0 derives it from the size like
	// mke2fs (one per 16 KiB, or per 4 KiB below 512 MiB).
	Inodes int64
	// TempDir is where the writer keeps its temporary file (finished
	// inodes and directory entries, ~300 bytes per entry, removed by
	// Close); "" means os.TempDir().
	TempDir string
	// ReadOnly is accepted for symmetry with other writers; the image is an
	// ordinary clean filesystem either way.
	ReadOnly bool
}

// Filesystem feature bits (see the kernel's ext4.h).
const (
	compatHasJournal   = 0x4
	compatExtAttr      = 0x8
	compatSparseSuper2 = 0x200

	incompatFiletype = 0x2
	incompatExtents  = 0x40
	incompatFlexBG   = 0x200

	roCompatSparseSuper = 0x1
	roCompatLargeFile   = 0x2
	roCompatHugeFile    = 0x8
	roCompatDirNlink    = 0x20
	roCompatExtraIsize  = 0x40
)

const (
	inodeSize  = 256
	extraIsize = 32
	firstIno   = 11
	rootIno    = 2
	journalIno = 8
)

// normalize checks o and fills defaults.
func (o Options) normalize() (Options, error) {
	var errs []error
	switch o.Kind {
	case KindExt2:
		if o.Journal {
			errs = append(errs, errors.New("a journal needs ext4"))
		}
	case KindExt4:
	default:
		errs = append(errs, fmt.Errorf("unsupported filesystem kind %v", o.Kind))
	}
	if len(o.Label) > 16 {
		errs = append(errs, fmt.Errorf("label %q is longer than 16 bytes", o.Label))
	}
	switch o.BlockSize {
	case 0:
		o.BlockSize = 4096
	case 1024, 2048, 4096:
	default:
		errs = append(errs, fmt.Errorf("unsupported block size %d", o.BlockSize))
	}
	if o.Inodes < 0 {
		errs = append(errs, fmt.Errorf("negative inode count %d", o.Inodes))
	}
	if o.Time.IsZero() {
		o.Time = time.Unix(0, 0)
	}
	return o, errors.Join(errs...)
}

func (o Options) ext4() bool { return o.Kind == KindExt4 }

func (o Options) features() (compat, incompat, roCompat uint32) {
	compat = compatExtAttr
	incompat = incompatFiletype
	roCompat = roCompatSparseSuper | roCompatLargeFile
	if o.ext4() {
		compat |= compatSparseSuper2
		incompat |= incompatExtents | incompatFlexBG
		roCompat |= roCompatHugeFile | roCompatDirNlink | roCompatExtraIsize
		if o.Journal {
			compat |= compatHasJournal
		}
	}
	return compat, incompat, roCompat
}
