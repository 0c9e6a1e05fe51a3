package ext4

import (
	"slices"
	"sort"
)

// allocator hands out free blocks. Ordinary allocations come from the
// lowest free blocks, so streamed files are laid out one after the other;
// reservations take a contiguous run from the highest run that fits.
type allocator struct {
	free  []extent // sorted, disjoint, non-adjacent
	nfree int64
}

func newAllocator(free []extent) *allocator {
	a := &allocator{free: slices.Clone(free)}
	for _, e := range free {
		a.nfree += e.n
	}
	return a
}

// alloc returns up to want blocks from the lowest free run.
func (a *allocator) alloc(want int64) (extent, bool) {
	if len(a.free) == 0 || want <= 0 {
		return extent{}, false
	}
	f := &a.free[0]
	got := extent{f.start, min(want, f.n)}
	f.start += got.n
	f.n -= got.n
	if f.n == 0 {
		a.free = a.free[1:]
	}
	a.nfree -= got.n
	return got, true
}

// allocContig returns n contiguous blocks from the start of the highest
// free run that holds them.
func (a *allocator) allocContig(n int64) (int64, bool) {
	for i := len(a.free) - 1; i >= 0; i-- {
		f := &a.free[i]
		if f.n < n {
			continue
		}
		start := f.start
		f.start += n
		f.n -= n
		if f.n == 0 {
			a.free = slices.Delete(a.free, i, i+1)
		}
		a.nfree -= n
		return start, true
	}
	return 0, false
}

// release gives e back.
func (a *allocator) release(e extent) {
	if e.n <= 0 {
		return
	}
	a.nfree += e.n
	i := sort.Search(len(a.free), func(i int) bool { return a.free[i].start > e.start })
	if i > 0 && a.free[i-1].end() == e.start {
		a.free[i-1].n += e.n
		if i < len(a.free) && a.free[i-1].end() == a.free[i].start {
			a.free[i-1].n += a.free[i].n
			a.free = slices.Delete(a.free, i, i+1)
		}
		return
	}
	if i < len(a.free) && e.end() == a.free[i].start {
		a.free[i].start = e.start
		a.free[i].n += e.n
		return
	}
	a.free = slices.Insert(a.free, i, e)
}
