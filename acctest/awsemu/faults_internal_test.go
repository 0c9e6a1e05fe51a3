package awsemu

import "testing"

func decisions(f Faults, n int) []FaultKind {
	fi := newFaultInjector(f)
	var out []FaultKind
	for i := range n {
		out = append(out, fi.decide("PutSnapshotBlock", string(rune('a'+i%7))).kind)
	}
	return out
}

func TestFaultDecisionsAreDeterministic(t *testing.T) {
	tests := []struct {
		name string
		rate float64
		lo   int
		hi   int
	}{
		{"none", 0, 0, 0},
		{"5 percent", 0.05, 20, 85},
		{"30 percent", 0.30, 240, 360},
		{"always", 1, 1000, 1000},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := Faults{Rate: map[string]float64{"*": tc.rate}, Seed: 99}
			a, b := decisions(f, 1000), decisions(f, 1000)
			faults := 0
			for i := range a {
				if a[i] != b[i] {
					t.Fatalf("decision %d differs between runs with one seed", i)
				}
				if a[i] != FaultUnknown {
					faults++
				}
			}
			if faults < tc.lo || faults > tc.hi {
				t.Fatalf("%d faults in 1000 requests at rate %v", faults, tc.rate)
			}
			if tc.rate > 0 && tc.rate < 1 {
				f.Seed = 100
				c := decisions(f, 1000)
				same := 0
				for i := range a {
					if a[i] == c[i] {
						same++
					}
				}
				if same == len(a) {
					t.Fatal("another seed gave the same decisions")
				}
			}
		})
	}
}
