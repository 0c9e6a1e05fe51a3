package main

import (
	"fmt"
	"sort"
	"time"
)

// stat is the median, minimum and maximum of one figure over samples.
type stat struct{ Med, Min, Max float64 }

func statOf(ss []sample, f func(sample) float64) stat {
	if len(ss) == 0 {
		return stat{}
	}
	v := make([]float64, len(ss))
	for i, s := range ss {
		v[i] = f(s)
	}
	sort.Float64s(v)
	return stat{Med: medianF(v), Min: v[0], Max: v[len(v)-1]}
}

func wallOf(s sample) float64    { return s.Wall.Seconds() }
func cpuOf(s sample) float64     { return s.CPU().Seconds() }
func rssOf(s sample) float64     { return float64(s.MaxRSS) }
func scratchOf(s sample) float64 { return float64(s.Scratch) }

// secs formats a stat of seconds as "12.3 s (11.9–13.0)".
func secs(st stat) string {
	return fmt.Sprintf("%.1f s (%.1f–%.1f)", st.Med, st.Min, st.Max)
}

// bytesStat formats a stat of bytes as "123 MiB (120–130)".
func bytesStat(st stat) string {
	return fmt.Sprintf("%s (%s–%s)", human(int64(st.Med)), human(int64(st.Min)), human(int64(st.Max)))
}

func ratio(a, b float64) string {
	if b == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f×", a/b)
}

func mbps(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / (1 << 20) / d.Seconds()
}
