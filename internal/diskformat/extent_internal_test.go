package diskformat

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestFillHoles(t *testing.T) {
	d := func(off, n int64) Extent { return Extent{Offset: off, Length: n, Data: true} }
	h := func(off, n int64) Extent { return Extent{Offset: off, Length: n} }
	tests := []struct {
		name string
		data []Extent
		size int64
		want []Extent
	}{
		{name: "all hole", size: 100, want: []Extent{h(0, 100)}},
		{name: "all data", data: []Extent{d(0, 100)}, size: 100, want: []Extent{d(0, 100)}},
		{name: "merge adjacent", data: []Extent{d(0, 10), d(10, 10), d(30, 5)}, size: 40,
			want: []Extent{d(0, 20), h(20, 10), d(30, 5), h(35, 5)}},
		{name: "clip past size", data: []Extent{d(90, 20)}, size: 100, want: []Extent{h(0, 90), d(90, 10)}},
		{name: "overlap", data: []Extent{d(0, 10), d(5, 10)}, size: 20, want: []Extent{d(0, 15), h(15, 5)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, fillHoles(tt.data, tt.size)); diff != "" {
				t.Errorf("fillHoles (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDataChunks(t *testing.T) {
	exts := []Extent{{0, 10, true}, {10, 90, false}, {100, 1, true}, {101, 99, false}, {200, 150, true}}
	got := slices.Collect(dataChunks(exts, 64))
	want := []int64{0, 64, 192, 256, 320}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("dataChunks (-want +got):\n%s", diff)
	}
}

func TestPutTarNumber(t *testing.T) {
	tests := []struct {
		name string
		v    int64
		want string
	}{
		{name: "octal", v: 0o644, want: "00000000644\x00"},
		{name: "largest octal", v: 1<<33 - 1, want: "77777777777\x00"},
		{name: "base-256", v: 1 << 33, want: "\x80\x00\x00\x00\x00\x00\x00\x02\x00\x00\x00\x00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := make([]byte, 12)
			putTarNumber(b, tt.v)
			if string(b) != tt.want {
				t.Errorf("putTarNumber(%d) = %q, want %q", tt.v, b, tt.want)
			}
		})
	}
}
