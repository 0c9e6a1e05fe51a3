package diskformat

import "testing"

// TestPlanQCOW2 checks the allocation plan where it matters beyond what a
// quick end-to-end test can write: many refcount blocks and a refcount
// table over one cluster.
func TestPlanQCOW2(t *testing.T) {
	tib := int64(1) << 40
	tests := []struct {
		name     string
		exts     []Extent
		wantL2   int64
		wantData int64
	}{
		{name: "empty 1 GiB", exts: []Extent{{Offset: 0, Length: gib}}},
		{name: "one byte at the end", exts: []Extent{{0, gib - 1, false}, {gib - 1, 1, true}}, wantL2: 1, wantData: 1},
		{name: "3 TiB of data in 10 TiB", exts: []Extent{{0, 3 * tib, true}, {3 * tib, 7 * tib, false}},
			wantL2: 3 * tib / (512 * mib), wantData: 3 * tib / qcowCluster},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := planQCOW2(tt.exts)
			if p.l2 != tt.wantL2 || p.data != tt.wantData {
				t.Errorf("plan has %d L2 tables and %d data clusters, want %d and %d", p.l2, p.data, tt.wantL2, tt.wantData)
			}
			if p.total != 1+p.l1+p.rt+p.rb+p.l2+p.data {
				t.Errorf("total %d clusters does not add up: %+v", p.total, p)
			}
			if p.rb*qcowRefsPerBlock < p.total || (p.rb-1)*qcowRefsPerBlock >= p.total {
				t.Errorf("%d refcount blocks for %d clusters", p.rb, p.total)
			}
			if p.rt*qcowCluster/8 < p.rb {
				t.Errorf("refcount table of %d clusters cannot point at %d blocks", p.rt, p.rb)
			}
			if p.l1*qcowCluster/8 < p.l1Entries || p.l1Entries*qcowCluster*qcowL2Entries < p.size {
				t.Errorf("L1 of %d entries in %d clusters does not cover %d bytes", p.l1Entries, p.l1, p.size)
			}
			if p.dataOff != (1+p.l1+p.rt+p.rb+p.l2)*qcowCluster {
				t.Errorf("data starts at %d, want after the metadata", p.dataOff)
			}
		})
	}
}
