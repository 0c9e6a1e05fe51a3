package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// results is everything one run measured.
type results struct {
	Command            string
	Start, End         time.Time
	LoadStart, LoadEnd string
	Machine            [][2]string
	Compare            []*comparison
	Warm, Runs         int
	Scale              []*scalePoint
	Publish            *publishResults
	GoRaw              string
	Go                 []benchLine
	GoCount            int
	Notes              []string
	Final              bool // false while sections are still to run
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// machine describes the host: CPU, memory, kernel, the work disk.
func machine(work string) [][2]string {
	out := [][2]string{{"nproc", fmt.Sprint(runtime.NumCPU())}}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				out = append(out, [2]string{"CPU", strings.TrimSpace(v)})
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		l, _, _ := strings.Cut(string(b), "\n")
		if f := strings.Fields(l); len(f) >= 2 {
			kib, _ := strconv.ParseInt(f[1], 10, 64)
			out = append(out, [2]string{"memory", human(kib << 10)})
		}
	}
	out = append(out, [2]string{"kernel", cmdOut("uname", "-sr")})
	src := cmdOut("findmnt", "-no", "SOURCE,FSTYPE,OPTIONS", "-T", work)
	out = append(out, [2]string{"work filesystem", src})
	if dev := strings.Fields(src); len(dev) > 0 {
		name := strings.TrimPrefix(dev[0], "/dev/")
		rota := strings.TrimSpace(readFile("/sys/block/" + name + "/queue/rotational"))
		model := strings.TrimSpace(cmdOut("lsblk", "-dno", "SIZE,MODEL", dev[0]))
		out = append(out, [2]string{"disk", fmt.Sprintf("%s %s, rotational=%s", dev[0], model, rota)})
	}
	out = append(out, [2]string{"go", runtime.Version()})
	out = append(out, [2]string{"tools", strings.Join([]string{
		firstLine(cmdOut("mke2fs", "-V")), firstLine(cmdOut("mksquashfs", "-version")),
		firstLine(cmdOut("mkfs.vfat", "--help")), firstLine(cmdOut("sgdisk", "--version")),
	}, "; ")})
	return out
}

func readFile(p string) string { b, _ := os.ReadFile(p); return string(b) }

func cmdOut(name string, args ...string) string {
	b, _ := exec.Command(name, args...).CombinedOutput()
	return strings.TrimSpace(string(b))
}

func firstLine(s string) string { l, _, _ := strings.Cut(s, "\n"); return strings.TrimSpace(l) }

// markdown renders the results section of docs/performance.md.
func (r *results) markdown() string {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	p("Measured %s → %s UTC with\n\n    %s\n\n", r.Start.UTC().Format("2006-01-02 15:04"), r.End.UTC().Format("15:04"), r.Command)
	p("Load average (1, 5, 15 min) at the start: %s; at the end: %s.\n\n", r.LoadStart, r.LoadEnd)
	if !r.Final {
		p("**Partial results: the run had not finished every section when this was written.**\n\n")
	}
	p("| machine | |\n|---|---|\n")
	for _, kv := range r.Machine {
		p("| %s | %s |\n", kv[0], strings.ReplaceAll(kv[1], "|", "/"))
	}
	for _, n := range r.Notes {
		p("\n%s\n", n)
	}
	r.compareMD(&b)
	r.scaleMD(&b)
	r.publishMD(&b)
	r.goMD(&b)
	r.targetsMD(&b)
	return b.String()
}

func (r *results) compareMD(b *strings.Builder) {
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	p("\n### 1. Disk build: core against the reference pipeline\n\n")
	p("Rounds alternate core, reference, floor; %d warm-up round(s) of core and floor discarded, then the rounds counted below. "+
		"Figures are medians (min–max). CPU is user+sys of the whole process tree; peak RSS is the largest "+
		"process of the tree (wait4 ru_maxrss); scratch is the peak space taken from the work filesystem "+
		"(outputs included); the floor writes the layers' tar streams, not a disk.\n", r.Warm)
	for _, c := range r.Compare {
		p("\n#### %s (%s of compressed layers, %d rounds)\n\n", c.Input.Name, human(c.Input.BlobBytes), len(c.Core))
		p("| | wall | user+sys CPU | peak RSS | peak scratch | output apparent | output allocated |\n|---|---|---|---|---|---|---|\n")
		row := func(name string, ss []sample) {
			if len(ss) == 0 {
				return
			}
			last := ss[len(ss)-1]
			p("| %s | %s | %s | %s | %s | %s | %s |\n", name, secs(statOf(ss, wallOf)), secs(statOf(ss, cpuOf)),
				bytesStat(statOf(ss, rssOf)), bytesStat(statOf(ss, scratchOf)), human(last.Apparent), human(last.Allocated))
		}
		row("core", c.Core)
		row("reference", c.Ref)
		row("floor (gzip -dc + fsync)", c.Floor)
		cw := statOf(c.Core, wallOf).Med
		if len(c.Ref) > 0 {
			p("\ncore ÷ reference: wall %s, CPU %s, peak RSS %s. ", ratio(cw, statOf(c.Ref, wallOf).Med),
				ratio(statOf(c.Core, cpuOf).Med, statOf(c.Ref, cpuOf).Med), ratio(statOf(c.Core, rssOf).Med, statOf(c.Ref, rssOf).Med))
		} else {
			p("\nreference not run: %s. ", c.RefSkipped)
		}
		p("core ÷ floor: wall %s.\n", ratio(cw, statOf(c.Floor, wallOf).Med))
		stagesMD(b, c.Ref)
	}
}

func (r *results) scaleMD(b *strings.Builder) {
	if len(r.Scale) == 0 {
		return
	}
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	p("\n### 2. Scaling: the core over synthetic derivatives\n\n")
	p("Layer blobs read once into the page cache before each size; the 2 GiB point reuses the comparison's core runs.\n\n")
	p("| size | files | runs | wall | wall per GiB | user+sys CPU | peak RSS (max) | disk allocated |\n|---|---|---|---|---|---|---|---|\n")
	for _, s := range r.Scale {
		if len(s.Samples) == 0 {
			continue
		}
		w := statOf(s.Samples, wallOf)
		last := s.Samples[len(s.Samples)-1]
		p("| %s | %d | %d | %s | %.1f s | %s | %s | %s |\n", human(s.Size), s.Files, len(s.Samples), secs(w),
			w.Med/(float64(s.Size)/(1<<30)), secs(statOf(s.Samples, cpuOf)), human(int64(statOf(s.Samples, rssOf).Max)), human(last.Allocated))
	}
}

func (r *results) publishMD(b *strings.Builder) {
	pr := r.Publish
	if pr == nil {
		return
	}
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	p("\n### 3. Publishing to the emulators (%s)\n\n", pr.Input)
	s := pr.SourceRun
	p("Raw disk: %s apparent, %s allocated. Source reference → registered AMI (core build %.1f s, then EBS direct upload at the default concurrency): **%.1f s**.\n\n",
		human(s.Disk), human(s.Alloc), s.CoreWall.Seconds(), s.SourceToAMI.Seconds())
	if st := pr.Streamed; st != nil {
		p("Streamed (no disk file: `installer.Prepare`, then blocks from the writers straight to PutSnapshotBlock, as the AMI builder and `elemental_image` do): source reference → registered AMI **%.1f s**, %.1f s CPU, peak RSS %s, peak size of the files in its TMPDIR %s; %s sent in %d blocks (disk %s); at most %d blocks of 512 KiB buffered, %d handed on at the end.\n\n",
			st.Sample.Wall.Seconds(), st.Sample.CPU().Seconds(), human(st.Sample.MaxRSS), human(st.Sample.PeakFiles),
			human(st.Sent), st.Blocks, human(st.DiskSize), st.PeakBuffered, st.HandedAtClose)
	}
	p("| AMI upload concurrency | publish wall (best) | bytes sent | blocks | sent ÷ allocated | sent ÷ disk | MiB/s sent |\n|---|---|---|---|---|---|---|\n")
	for _, a := range pr.AMI {
		p("| %d | %.2f s | %s | %d | %.3f | %.3f | %.0f |\n", a.Concurrency, a.Wall.Seconds(), human(a.Sent), a.Blocks,
			float64(a.Sent)/float64(a.Alloc), float64(a.Sent)/float64(a.Disk), mbps(a.Sent, a.Wall))
	}
	g := pr.GCE
	p("\nGCE: the tar.gz sent is %s for a %s disk.raw (raw disk %s apparent, %s allocated, %s data as publish counts it): "+
		"sent ÷ allocated %.3f, publish wall %.1f s.\n", human(g.Sent), human(g.DiskTar), human(g.RawApparent), human(g.RawAlloca),
		human(g.Data), float64(g.Sent)/float64(g.RawAlloca), g.Wall.Seconds())
}

func (r *results) goMD(b *strings.Builder) {
	if r.GoRaw == "" {
		return
	}
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	p("\n### 4. Go benchmarks of the hot paths\n\n`go test -run '^$' -bench … -count %d` per package; medians.\n\n", r.GoCount)
	p("| benchmark | runs | MB/s (min–max) | time/op | B/op | allocs/op |\n|---|---|---|---|---|---|\n")
	for _, l := range r.Go {
		p("| %s | %d | %.1f (%.1f–%.1f) | %s | %s | %.0f |\n", l.Name, l.Runs, l.MBs, l.MinMB, l.MaxMB,
			time.Duration(l.NsOp).Round(time.Microsecond), human(int64(l.BOp)), l.AllocsOp)
	}
	p("\n<details><summary>raw output (benchstat input)</summary>\n\n```\n%s```\n\n</details>\n", r.GoRaw)
}

// stagesMD lists the reference's median time per step.
func stagesMD(b *strings.Builder, ss []sample) {
	if len(ss) == 0 || len(ss[0].Stages) == 0 {
		return
	}
	fmt.Fprintf(b, "\nReference steps (median wall): ")
	for i, st := range ss[0].Stages {
		var v []float64
		for _, s := range ss {
			if i < len(s.Stages) {
				v = append(v, s.Stages[i].Secs)
			}
		}
		sep := ", "
		if i == len(ss[0].Stages)-1 {
			sep = ".\n"
		}
		fmt.Fprintf(b, "%s %.1f s%s", st.Name, medianF(v), sep)
	}
}
