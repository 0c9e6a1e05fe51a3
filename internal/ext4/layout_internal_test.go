package ext4

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestAllocator(t *testing.T) {
	type step struct {
		alloc   int64  // >0: alloc this many
		contig  int64  // >0: allocContig this many
		release extent // n>0: release
		want    extent // result of alloc/allocContig
	}
	cases := []struct {
		name  string
		free  []extent
		steps []step
		after []extent
	}{
		{name: "lowest first, partial runs", free: []extent{{10, 5}, {20, 100}},
			steps: []step{{alloc: 8, want: extent{10, 5}}, {alloc: 8, want: extent{20, 8}}},
			after: []extent{{28, 92}}},
		{name: "contiguous from the highest run that fits", free: []extent{{10, 50}, {100, 40}, {200, 10}},
			steps: []step{{contig: 30, want: extent{100, 30}}, {contig: 45, want: extent{10, 45}}},
			after: []extent{{55, 5}, {130, 10}, {200, 10}}},
		{name: "release merges both sides", free: []extent{{0, 10}, {20, 10}},
			steps: []step{{release: extent{10, 10}}},
			after: []extent{{0, 30}}},
		{name: "release merges left, right, or inserts", free: []extent{{0, 10}, {50, 10}},
			steps: []step{{release: extent{10, 5}}, {release: extent{45, 5}}, {release: extent{30, 2}}},
			after: []extent{{0, 15}, {30, 2}, {45, 15}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := newAllocator(tc.free)
			total := a.nfree
			for i, s := range tc.steps {
				var got extent
				switch {
				case s.alloc > 0:
					got, _ = a.alloc(s.alloc)
					total -= got.n
				case s.contig > 0:
					start, ok := a.allocContig(s.contig)
					if ok {
						got = extent{start, s.contig}
						total -= s.contig
					}
				default:
					a.release(s.release)
					total += s.release.n
					continue
				}
				if got != s.want {
					t.Errorf("step %d: got %v, want %v", i, got, s.want)
				}
			}
			if diff := cmp.Diff(tc.after, a.free, cmp.AllowUnexported(extent{})); diff != "" {
				t.Errorf("free list (-want +got):\n%s", diff)
			}
			if a.nfree != total {
				t.Errorf("nfree %d, want %d", a.nfree, total)
			}
		})
	}
}

func TestBackupGroups(t *testing.T) {
	cases := []struct {
		name   string
		kind   Kind
		groups int64
		want   []int64
	}{
		{name: "ext2 sparse_super", kind: KindExt2, groups: 130, want: []int64{0, 1, 3, 5, 7, 9, 25, 27, 49, 81, 125}},
		{name: "ext4 one group", kind: KindExt4, groups: 1, want: []int64{0}},
		{name: "ext4 two groups", kind: KindExt4, groups: 2, want: []int64{0, 1}},
		{name: "ext4 sparse_super2", kind: KindExt4, groups: 130, want: []int64{0, 1, 129}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := &layout{groups: tc.groups, flex: tc.kind == KindExt4}
			l.setBackups()
			var got []int64
			for g := range tc.groups {
				if l.hasSuper(g) {
					got = append(got, g)
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("groups with a superblock (-want +got):\n%s", diff)
			}
		})
	}
}

// TestLayoutFree checks that fixed metadata and free runs tile the
// filesystem exactly, for sizes around group boundaries.
func TestLayoutFree(t *testing.T) {
	for _, tc := range []struct {
		name string
		kind Kind
		bs   int
		size int64
	}{
		{"ext2 4k", KindExt2, 4096, 1<<30 + 300<<10},
		{"ext4 4k", KindExt4, 4096, 9 << 30},
		{"ext2 1k", KindExt2, 1024, 100<<20 + 7<<10},
		{"ext4 1k", KindExt4, 1024, 300 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := newLayout(tc.size, Options{Kind: tc.kind, BlockSize: tc.bs})
			if err != nil {
				t.Fatal(err)
			}
			all := mergeExtents(append(l.free(), l.meta...))
			if diff := cmp.Diff([]extent{{l.fdb, l.blocks - l.fdb}}, all, cmp.AllowUnexported(extent{})); diff != "" {
				t.Errorf("metadata and free space do not tile the fs (-want +got):\n%s", diff)
			}
			var sum, meta int64
			for _, e := range l.free() {
				sum += e.n
			}
			for _, e := range l.meta {
				meta += e.n
			}
			if sum+meta != l.blocks-l.fdb {
				t.Errorf("metadata and free space overlap: %d blocks for %d", sum+meta, l.blocks-l.fdb)
			}
			want := l.groups * (2 + l.itb)
			for g := range l.groups {
				if l.hasSuper(g) {
					want += 1 + l.gdtBlocks
				}
			}
			if meta != want {
				t.Errorf("%d metadata blocks, want exactly %d (no gaps counted)", meta, want)
			}
		})
	}
}
