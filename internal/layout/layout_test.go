package layout_test

import (
	"strings"
	"testing"

	"github.com/elemental-suite/elemental/internal/layout"
)

func TestCompute(t *testing.T) {
	const M = layout.MiB
	tests := []struct {
		name     string
		req      layout.Request
		wantErr  []string
		wantSize map[string]int64
		wantDisk int64
	}{
		{
			name:     "auto sizes with headroom, aligned",
			req:      layout.Request{Need: map[string]int64{"efi": 64 * M, "oem": 64 * M, "recovery": 100*M + 1, "state": 300 * M, "persistent": 256 * M}, Headroom: map[string]int64{"state": 10 * M}},
			wantSize: map[string]int64{"efi": 64 * M, "oem": 64 * M, "recovery": 101 * M, "state": 310 * M, "persistent": 256 * M},
			wantDisk: (1 + 64 + 64 + 101 + 310 + 256 + 1) * M,
		},
		{
			name:     "disk size gives the rest to persistent",
			req:      layout.Request{Need: map[string]int64{"efi": 64 * M, "oem": 64 * M, "recovery": 100 * M, "state": 300 * M, "persistent": 256 * M}, DiskSize: 8192 * M},
			wantSize: map[string]int64{"persistent": (8192 - 1 - 64 - 64 - 100 - 300 - 1) * M},
			wantDisk: 8192 * M,
		},
		{
			name:    "every size problem at once",
			req:     layout.Request{Need: map[string]int64{"recovery": 100 * M, "state": 300 * M}, Fixed: map[string]int64{"recovery": 50 * M, "state": 200 * M}, DiskSize: 100 * M},
			wantErr: []string{"partition recovery: content needs 100 MiB but its size is 50 MiB", "partition state: content needs 300 MiB but its size is 200 MiB", "disk size 100 MiB is smaller than"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan, err := layout.Compute(tt.req)
			if len(tt.wantErr) > 0 {
				if err == nil {
					t.Fatal("want error")
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q lacks %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if plan.DiskSize != tt.wantDisk {
				t.Errorf("disk size %d, want %d", plan.DiskSize, tt.wantDisk)
			}
			prevEnd := layout.MiB
			for i, p := range plan.Partitions {
				if p.Name != layout.Order[i] || p.Label != layout.Labels[p.Name] {
					t.Errorf("partition %d is %s/%s", i, p.Name, p.Label)
				}
				if p.Offset%layout.MiB != 0 || p.Offset != prevEnd {
					t.Errorf("%s starts at %d, want %d (aligned, no gap)", p.Name, p.Offset, prevEnd)
				}
				prevEnd = p.End()
				if want, ok := tt.wantSize[p.Name]; ok && p.Size != want {
					t.Errorf("%s size %d MiB, want %d MiB", p.Name, p.Size/layout.MiB, want/layout.MiB)
				}
			}
			if plan.DiskSize-prevEnd < layout.MiB {
				t.Errorf("less than 1 MiB left for the backup GPT")
			}
		})
	}
}
