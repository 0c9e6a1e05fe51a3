package main

import (
	"fmt"
	"strings"
)

// target is one design target and where the measurement stands.
type target struct {
	Name, Measured string
	Met            bool
}

func mark(ok bool) string {
	if ok {
		return "met"
	}
	return "**missed**"
}

// targets checks the targets against the results.
func (r *results) targets() []target {
	var ts []target
	var coreRSS float64
	for _, c := range r.Compare {
		if len(c.Core) == 0 {
			continue
		}
		cw := statOf(c.Core, wallOf).Med
		if len(c.Ref) > 0 {
			rw := statOf(c.Ref, wallOf).Med
			ts = append(ts, target{Name: "core wall ≤ 0.2× reference (" + c.Input.Name + ")",
				Measured: fmt.Sprintf("%.1f s vs %.1f s = %.2f×", cw, rw, cw/rw), Met: cw <= 0.2*rw})
		}
		fw := statOf(c.Floor, wallOf).Med
		ts = append(ts, target{Name: "core wall ≤ 2× floor (" + c.Input.Name + ")",
			Measured: fmt.Sprintf("%.1f s vs %.1f s = %.2f×", cw, fw, cw/fw), Met: cw <= 2*fw})
		coreRSS = max(coreRSS, statOf(c.Core, rssOf).Max)
		own := statOf(c.Core, func(s sample) float64 { return float64(s.PeakFiles) }).Max
		alloc := float64(c.Core[len(c.Core)-1].Allocated)
		ts = append(ts, target{Name: "no stage needs 2× the disk (" + c.Input.Name + ")",
			Measured: fmt.Sprintf("the core's own files peak at %s = %.2f× its disk's allocated %s (filesystem-wide scratch, noisy with other jobs: %s)",
				human(int64(own)), own/alloc, human(int64(alloc)), human(int64(statOf(c.Core, scratchOf).Med))),
			Met: own < 2*alloc})
	}
	for _, s := range r.Scale {
		coreRSS = max(coreRSS, statOf(s.Samples, rssOf).Max)
	}
	if coreRSS > 0 {
		ts = append(ts, target{Name: "core peak RSS ≤ 256 MiB", Measured: human(int64(coreRSS)), Met: coreRSS <= 256<<20})
	}
	if n := len(r.Scale); n > 1 && len(r.Scale[0].Samples) > 0 && len(r.Scale[n-1].Samples) > 0 {
		lo, hi := statOf(r.Scale[0].Samples, rssOf).Max, statOf(r.Scale[n-1].Samples, rssOf).Max
		ts = append(ts, target{Name: "peak RSS flat in image size (≤ 1.25× from smallest to largest)",
			Measured: fmt.Sprintf("%s at %s, %s at %s = %.2f×", human(int64(lo)), human(r.Scale[0].Size),
				human(int64(hi)), human(r.Scale[n-1].Size), hi/lo), Met: hi <= 1.25*lo})
	}
	if pr := r.Publish; pr != nil {
		worst := 0.0
		for _, a := range pr.AMI {
			worst = max(worst, float64(a.Sent)/float64(a.Alloc))
		}
		ts = append(ts, target{Name: "AMI bytes uploaded ≤ 1.05× allocated", Measured: fmt.Sprintf("%.3f×", worst), Met: worst <= 1.05})
		g := float64(pr.GCE.Sent) / float64(pr.GCE.RawAlloca)
		ts = append(ts, target{Name: "GCE bytes uploaded ≤ 1.05× allocated", Measured: fmt.Sprintf("%.3f×", g), Met: g <= 1.05})
	}
	return ts
}

func (r *results) targetsMD(b *strings.Builder) {
	ts := r.targets()
	if len(ts) == 0 {
		return
	}
	fmt.Fprintf(b, "\n### Targets\n\n| target | measured | status |\n|---|---|---|\n")
	for _, t := range ts {
		fmt.Fprintf(b, "| %s | %s | %s |\n", t.Name, t.Measured, mark(t.Met))
	}
}
