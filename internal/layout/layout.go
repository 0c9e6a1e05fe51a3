package layout

import (
	"errors"
	"fmt"
)

// MiB is the alignment unit of every partition (contract §1.1).
const MiB = int64(1) << 20

// FS is the filesystem a partition carries.
type FS int

const (
	FSUnknown FS = iota
	FSVFAT
	FSExt4
)

func (f FS) String() string {
	switch f {
	case FSVFAT:
		return "vfat"
	case FSExt4:
		return "ext4"
	}
	return "unknown"
}

// Partition names (GPT PARTLABEL) and filesystem labels of the contract.
const (
	EFI        = "efi"
	OEM        = "oem"
	Recovery   = "recovery"
	State      = "state"
	Persistent = "persistent"
)

// Labels maps partition names to their default filesystem labels.
var Labels = map[string]string{
	EFI: "COS_GRUB", OEM: "COS_OEM", Recovery: "COS_RECOVERY", State: "COS_STATE", Persistent: "COS_PERSISTENT",
}

// Order is the install order; the last partition takes the rest of the disk.
var Order = []string{EFI, OEM, Recovery, State, Persistent}

// Defaults sizes for partitions whose content does not decide their size.
const (
	DefaultEFISize        = 64 * MiB
	DefaultOEMSize        = 64 * MiB
	DefaultPersistentSize = 256 * MiB
)

// Partition is one planned partition.
type Partition struct {
	Name  string
	Label string
	FS    FS
	// Offset and Size are in bytes; Offset is 1 MiB aligned.
	Offset, Size int64
}

// End returns the first byte after the partition.
func (p Partition) End() int64 { return p.Offset + p.Size }

// Request says what each partition must hold. Need is the smallest size
// its content fits in (auto sizing adds headroom to it); Fixed, when
// non-zero, is the size the user asked for.
type Request struct {
	Need  map[string]int64
	Fixed map[string]int64
	// Headroom is added to Need for auto-sized partitions.
	Headroom map[string]int64
	// DiskSize, when non-zero, is the total disk size; the last partition
	// takes what is left.
	DiskSize int64
}

// Plan is a planned disk.
type Plan struct {
	DiskSize   int64
	Partitions []Partition
}

// Partition returns the planned partition with the given name.
func (p *Plan) Partition(name string) (Partition, bool) {
	for _, q := range p.Partitions {
		if q.Name == name {
			return q, true
		}
	}
	return Partition{}, false
}

// tail is kept free after the last partition for the backup GPT (the
// toolkit's build-disk leaves 1 MiB, contract §1.1).
const tail = MiB

// Compute lays the partitions out in Order. It reports every partition
// whose fixed size cannot hold its content, and a disk size too small for
// the partitions, in one error.
func Compute(req Request) (*Plan, error) {
	var errs []error
	plan := &Plan{}
	off := MiB
	for i, name := range Order {
		need := alignUp(req.Need[name])
		size := req.Fixed[name]
		last := i == len(Order)-1
		switch {
		case size < 0:
			errs = append(errs, fmt.Errorf("partition %s: size %d is negative", name, size))
		case size > 0:
			size = alignUp(size)
			if size < need {
				errs = append(errs, fmt.Errorf("partition %s: content needs %s but its size is %s", name, human(need), human(size)))
			}
		default:
			size = alignUp(need + req.Headroom[name])
		}
		fs := FSExt4
		if name == EFI {
			fs = FSVFAT
		}
		if last && req.DiskSize > 0 {
			rest := alignDown(req.DiskSize) - tail - off
			if req.Fixed[name] == 0 && rest >= need {
				size = rest
			}
		}
		plan.Partitions = append(plan.Partitions, Partition{Name: name, Label: Labels[name], FS: fs, Offset: off, Size: size})
		off += size
	}
	plan.DiskSize = off + tail
	if req.DiskSize > 0 {
		if req.DiskSize < plan.DiskSize {
			errs = append(errs, fmt.Errorf("disk size %s is smaller than the %s the partitions need", human(req.DiskSize), human(plan.DiskSize)))
		} else {
			plan.DiskSize = req.DiskSize
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return plan, nil
}

func alignUp(n int64) int64   { return (n + MiB - 1) / MiB * MiB }
func alignDown(n int64) int64 { return n / MiB * MiB }

func human(n int64) string {
	if n%MiB == 0 {
		return fmt.Sprintf("%d MiB", n/MiB)
	}
	return fmt.Sprintf("%d bytes", n)
}
