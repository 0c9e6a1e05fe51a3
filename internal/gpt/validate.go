package gpt

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/google/uuid"
)

// ErrInvalid is wrapped by every error Validate returns.
var ErrInvalid = errors.New("invalid partition table")

// PartitionError describes a problem with one partition.
type PartitionError struct {
	Index int // 0-based index in Table.Partitions
	Name  string
	Err   error
}

func (e *PartitionError) Error() string {
	return fmt.Sprintf("partition %d (%q): %v", e.Index+1, e.Name, e.Err)
}

func (e *PartitionError) Unwrap() error { return e.Err }

// Validate checks that t can be written to a disk of diskSize bytes and
// reports every problem at once: unsupported sector size, a disk too small
// or not a whole number of sectors, zero or duplicate GUIDs, partitions
// outside the usable range, overlapping partitions, and names that are not
// UTF-8 or longer than MaxNameLen UTF-16 code units.
func (t *Table) Validate(diskSize int64) error {
	var errs []error
	ss := t.sectorSize()
	switch {
	case ss != 512 && ss != 4096:
		errs = append(errs, fmt.Errorf("sector size %d is not 512 or 4096", ss))
	case diskSize%ss != 0:
		errs = append(errs, fmt.Errorf("disk size %d is not a multiple of the %d-byte sector", diskSize, ss))
	case LastUsable(diskSize, ss) < FirstUsable(ss):
		errs = append(errs, fmt.Errorf("disk of %d bytes has no room for a GPT", diskSize))
	}
	if t.DiskGUID == uuid.Nil {
		errs = append(errs, errors.New("disk GUID is zero"))
	}
	if len(t.Partitions) > NumEntries {
		errs = append(errs, fmt.Errorf("%d partitions, at most %d fit", len(t.Partitions), NumEntries))
	}
	if len(errs) == 0 { // the usable range is meaningful
		errs = append(errs, t.checkPartitions(diskSize)...)
	} else {
		errs = append(errs, t.checkPartitions(-1)...)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return nil
}

// checkPartitions checks each partition and the pairs that overlap. A
// negative diskSize skips the usable-range check.
func (t *Table) checkPartitions(diskSize int64) []error {
	var errs []error
	ss := t.sectorSize()
	seen := map[uuid.UUID]int{t.DiskGUID: -1}
	for i, p := range t.Partitions {
		perr := func(err error) { errs = append(errs, &PartitionError{Index: i, Name: p.Name, Err: err}) }
		if p.Type == uuid.Nil {
			perr(errors.New("type GUID is zero (marks an unused entry)"))
		}
		if p.GUID == uuid.Nil {
			perr(errors.New("partition GUID is zero"))
		} else if j, dup := seen[p.GUID]; dup {
			if j < 0 {
				perr(fmt.Errorf("partition GUID %s equals the disk GUID", p.GUID))
			} else {
				perr(fmt.Errorf("partition GUID %s already used by partition %d", p.GUID, j+1))
			}
		} else {
			seen[p.GUID] = i
		}
		if !utf8.ValidString(p.Name) {
			perr(errors.New("name is not valid UTF-8"))
		} else if n := len(utf16.Encode([]rune(p.Name))); n > MaxNameLen {
			perr(fmt.Errorf("name is %d UTF-16 code units, at most %d fit", n, MaxNameLen))
		}
		switch {
		case p.First > p.Last:
			perr(fmt.Errorf("first sector %d is after last sector %d", p.First, p.Last))
		case diskSize < 0:
		case p.First < FirstUsable(ss) || p.Last > LastUsable(diskSize, ss):
			perr(fmt.Errorf("sectors %d-%d are outside the usable range %d-%d", p.First, p.Last, FirstUsable(ss), LastUsable(diskSize, ss)))
		}
	}
	return append(errs, t.overlaps()...)
}

func (t *Table) overlaps() []error {
	idx := make([]int, len(t.Partitions))
	for i := range idx {
		idx[i] = i
	}
	ps := t.Partitions
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(ps[a].First, ps[b].First) })
	var errs []error
	for k := 1; k < len(idx); k++ {
		// Compare with every earlier partition that may still reach here.
		for j := k - 1; j >= 0; j-- {
			a, b := ps[idx[j]], ps[idx[k]]
			if a.First > a.Last || b.First > b.Last {
				continue // reported already
			}
			if a.Last >= b.First {
				lo, hi := min(idx[j], idx[k]), max(idx[j], idx[k])
				errs = append(errs, &PartitionError{Index: hi, Name: ps[hi].Name,
					Err: fmt.Errorf("overlaps partition %d (%q)", lo+1, ps[lo].Name)})
			}
		}
	}
	return errs
}
