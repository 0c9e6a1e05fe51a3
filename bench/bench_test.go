package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseBench(t *testing.T) {
	out := `goos: linux
BenchmarkWalk-2   	       2	 900000000 ns/op	  70.00 MB/s	 4656988 B/op	   61075 allocs/op
BenchmarkWalk-2   	       2	 800000000 ns/op	  80.00 MB/s	 4656988 B/op	   61075 allocs/op
BenchmarkWalk-2   	       2	 700000000 ns/op	  90.00 MB/s	 4656988 B/op	   61075 allocs/op
BenchmarkGunzip/pgzip-2   	       6	 182618537 ns/op	 277.27 MB/s
PASS
`
	got := parseBench(out)
	tests := []struct {
		name          string
		idx           int
		bench         string
		runs          int
		mbs, min, max float64
	}{
		{name: "median of three", idx: 0, bench: "BenchmarkWalk", runs: 3, mbs: 80, min: 70, max: 90},
		{name: "sub-benchmark", idx: 1, bench: "BenchmarkGunzip/pgzip", runs: 1, mbs: 277.27, min: 277.27, max: 277.27},
	}
	if len(got) != len(tests) {
		t.Fatalf("parsed %d benchmarks, want %d: %+v", len(got), len(tests), got)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := got[tc.idx]
			if l.Name != tc.bench || l.Runs != tc.runs || l.MBs != tc.mbs || l.MinMB != tc.min || l.MaxMB != tc.max {
				t.Errorf("got %+v, want %s runs=%d MB/s=%v (%v–%v)", l, tc.bench, tc.runs, tc.mbs, tc.min, tc.max)
			}
		})
	}
}

func TestParseStages(t *testing.T) {
	got := parseStages("noise\nstage flatten 1.500\nstage mksquashfs-recovery 8.25\nstage bad x\n")
	if len(got) != 2 || got[0] != (stageTime{"flatten", 1.5}) || got[1] != (stageTime{"mksquashfs-recovery", 8.25}) {
		t.Errorf("parseStages = %+v", got)
	}
}

func TestStatOf(t *testing.T) {
	ss := []sample{{Wall: 3 * time.Second}, {Wall: time.Second}, {Wall: 2 * time.Second}, {Wall: 10 * time.Second}}
	if st := statOf(ss, wallOf); st != (stat{Med: 2.5, Min: 1, Max: 10}) {
		t.Errorf("statOf = %+v, want median 2.5, 1–10", st)
	}
}

func TestReplaceSection(t *testing.T) {
	tests := []struct {
		name, doc, want string
		wantErr         bool
	}{
		{name: "replaces between markers", doc: "a\n" + beginMark + "\nold\n" + endMark + "\nb\n",
			want: "a\n" + beginMark + "\nNEW\n\n" + endMark + "\nb\n"},
		{name: "no markers", doc: "a\n", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "doc.md")
			if err := os.WriteFile(p, []byte(tc.doc), 0o644); err != nil {
				t.Fatal(err)
			}
			err := replaceSection(p, "NEW\n")
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			b, _ := os.ReadFile(p)
			if !tc.wantErr && string(b) != tc.want {
				t.Errorf("doc = %q, want %q", b, tc.want)
			}
		})
	}
}

func TestReadTime(t *testing.T) {
	p := filepath.Join(t.TempDir(), "t")
	if err := os.WriteFile(p, []byte("Command exited with non-zero status 1\n2048 1.50 0.25\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var s sample
	if err := readTime(p, &s); err != nil {
		t.Fatal(err)
	}
	if s.MaxRSS != 2<<20 || s.User != 1500*time.Millisecond || s.Sys != 250*time.Millisecond {
		t.Errorf("readTime = %+v", s)
	}
	if !strings.Contains(human(3<<30), "GiB") {
		t.Error("human(3 GiB) lacks GiB")
	}
}
