package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// goBench is one `go test -bench` invocation.
type goBench struct {
	Pkg, Regexp string
}

// hotPaths are the benchmarks of the hot paths: layer reading and
// decompression, the ext writer, block hashing, the GCE gzip writer, the
// block assembler of streamed uploads and a whole build.
var hotPaths = []goBench{
	{Pkg: "./internal/oci", Regexp: "^Benchmark(Walk|Gunzip)$"},
	{Pkg: "./internal/ext4", Regexp: "^BenchmarkWrite$"},
	{Pkg: "./internal/squashfs", Regexp: "^BenchmarkWrite$"},
	{Pkg: "./internal/diskformat", Regexp: "^Benchmark(Blocks|Convert)$/^(gce)?$"},
	{Pkg: "./internal/blockstream", Regexp: "^BenchmarkSequential4K$"},
	{Pkg: "./internal/installer", Regexp: "^BenchmarkRun$"},
}

// benchLine is the median of one benchmark's runs.
type benchLine struct {
	Name            string
	Runs            int
	NsOp, MBs, BOp  float64
	AllocsOp, MinMB float64
	MaxMB           float64
}

// runGoBench runs the hot-path benchmarks count times each and returns the
// raw output (benchstat reads it) and per-benchmark medians.
func runGoBench(ctx context.Context, goCmd string, count int) (string, []benchLine, error) {
	var raw strings.Builder
	for _, gb := range hotPaths {
		cmd := exec.CommandContext(ctx, goCmd, "test", "-run", "^$", "-bench", gb.Regexp,
			"-count", strconv.Itoa(count), "-timeout", "20m", gb.Pkg)
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		raw.Write(out)
		if err != nil {
			return raw.String(), nil, fmt.Errorf("go test -bench %s %s: %w", gb.Regexp, gb.Pkg, err)
		}
	}
	return raw.String(), parseBench(raw.String()), nil
}

var benchRe = regexp.MustCompile(`^(Benchmark\S+?)(-\d+)?\s+\d+\s+(.*)$`)

func parseBench(out string) []benchLine {
	vals := map[string]map[string][]float64{}
	var order []string
	for _, line := range strings.Split(out, "\n") {
		m := benchRe.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		if vals[m[1]] == nil {
			vals[m[1]] = map[string][]float64{}
			order = append(order, m[1])
		}
		f := strings.Fields(m[3])
		for i := 0; i+1 < len(f); i += 2 {
			if v, err := strconv.ParseFloat(f[i], 64); err == nil {
				vals[m[1]][f[i+1]] = append(vals[m[1]][f[i+1]], v)
			}
		}
	}
	var lines []benchLine
	for _, n := range order {
		v := vals[n]
		l := benchLine{Name: n, Runs: len(v["ns/op"]), NsOp: medianF(v["ns/op"]), MBs: medianF(v["MB/s"]),
			BOp: medianF(v["B/op"]), AllocsOp: medianF(v["allocs/op"])}
		if mb := v["MB/s"]; len(mb) > 0 {
			s := append([]float64(nil), mb...)
			sort.Float64s(s)
			l.MinMB, l.MaxMB = s[0], s[len(s)-1]
		}
		lines = append(lines, l)
	}
	return lines
}

func medianF(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
