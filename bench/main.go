package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/elemental-suite/elemental/acctest/derivative"
	"github.com/elemental-suite/elemental/bench/synth"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	if len(args) > 0 {
		switch args[0] {
		case "core":
			return runCore(ctx, args[1:])
		case "extract":
			return runExtract(args[1:])
		case "stream":
			return runStream(ctx, args[1:])
		}
	}
	return runSuite(ctx, args)
}

// config holds the suite's flags.
type config struct {
	runs, synthRuns, warm, scaleRuns, largeRuns, publishRuns, goCount int
	synthMiB                                                          int64
	scale, concurrency                                                []int
	sections                                                          []string
	cache, work, out, doc, scripts, goCmd, cpuprofile                 string
	useDefault                                                        bool
}

func parseFlags(args []string) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.IntVar(&c.runs, "runs", 5, "measured rounds per input (core, reference, floor)")
	fs.IntVar(&c.synthRuns, "synth-runs", 5, "measured rounds for the synthetic input (the issue asks for at least 5; its reference build takes two minutes)")
	fs.IntVar(&c.warm, "warmup", 1, "warm-up rounds per input (core and floor), discarded")
	fs.Int64Var(&c.synthMiB, "synth", 2048, "size in MiB of the synthetic input of the comparison (0: none)")
	scale := fs.String("scale", "512,1024,2048,4096", "synthetic sizes in MiB for the scaling table")
	fs.IntVar(&c.scaleRuns, "scale-runs", 2, "measured core runs per scaling size")
	fs.IntVar(&c.largeRuns, "large-runs", 1, "measured core runs for scaling sizes of 4 GiB and more")
	fs.IntVar(&c.publishRuns, "publish-runs", 2, "AMI publications per concurrency (the best is kept)")
	conc := fs.String("concurrency", "1,8,32,64", "AMI upload concurrencies")
	fs.IntVar(&c.goCount, "gocount", 5, "go test -count for the hot-path benchmarks")
	sections := fs.String("sections", "publish,go,disk,scale", "sections to run, in this order")
	fs.BoolVar(&c.useDefault, "default", true, "include the default test derivative (acctest/derivative v2-A)")
	fs.StringVar(&c.cache, "cache", ".cache/bench", "cache of synthetic images")
	fs.StringVar(&c.work, "work", ".cache/bench/work", "scratch directory (on the disk being measured)")
	fs.StringVar(&c.out, "out", ".cache/bench/results.md", "results file (a .json beside it holds every sample)")
	fs.StringVar(&c.doc, "doc", "", "replace the results section of this markdown file")
	fs.StringVar(&c.scripts, "scripts", "bench", "directory of reference.sh and floor.sh")
	fs.StringVar(&c.goCmd, "go", "go", "go command for the Go benchmarks")
	fs.StringVar(&c.cpuprofile, "cpuprofile", "", "")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: bench [flags]   (children: bench core …, bench stream …, bench extract LAYOUT TAG)")
		fs.VisitAll(func(f *flag.Flag) {
			if f.Usage != "" { // -cpuprofile DIR stays hidden: one profiled core run per input
				fmt.Fprintf(fs.Output(), "  -%s\t%s (default %q)\n", f.Name, f.Usage, f.DefValue)
			}
		})
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	var err error
	if c.scale, err = ints(*scale); err != nil {
		return nil, fmt.Errorf("-scale: %w", err)
	}
	if c.concurrency, err = ints(*conc); err != nil {
		return nil, fmt.Errorf("-concurrency: %w", err)
	}
	for s := range strings.SplitSeq(*sections, ",") {
		if s = strings.TrimSpace(s); s != "" {
			c.sections = append(c.sections, s)
		}
	}
	return c, nil
}

func ints(s string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}

func logf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "%s bench: %s\n", time.Now().UTC().Format("15:04:05"), fmt.Sprintf(format, a...))
}

func runSuite(ctx context.Context, args []string) error {
	c, err := parseFlags(args)
	if err != nil {
		return err
	}
	bin, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding the bench binary: %w", err)
	}
	for _, p := range []*string{&c.cache, &c.work, &c.scripts} {
		if *p, err = filepath.Abs(*p); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(c.work, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", c.work, err)
	}
	cmdline := os.Getenv("BENCH_COMMAND")
	if cmdline == "" {
		cmdline = "bench " + strings.Join(args, " ")
	}
	res := &results{Command: cmdline, Start: time.Now(), LoadStart: loadavg(), Machine: machine(c.work), Warm: c.warm, Runs: c.runs, GoCount: c.goCount}
	r := &runner{bin: bin, scripts: c.scripts, work: c.work, log: logf}
	logf("load average %s", res.LoadStart)
	// save writes what has been measured so far after every section, so
	// an interrupted run still leaves its results.
	save := func(final bool) error {
		res.End, res.LoadEnd, res.Final = time.Now(), loadavg(), final
		return writeResults(c, res, final)
	}
	if err := suite(ctx, c, r, res, save); err != nil {
		return err
	}
	return save(true)
}

func suite(ctx context.Context, c *config, r *runner, res *results, save func(bool) error) error {
	var inputs []input
	if c.useDefault {
		in, err := defaultInput(ctx, c.cache)
		if err != nil {
			return err
		}
		inputs = append(inputs, in)
	}
	ensure := func(mib int64) (*synth.Image, input, error) {
		logf("synthetic %d MiB: generating or reusing", mib)
		im, err := synth.Ensure(c.cache, mib<<20)
		if err != nil {
			return nil, input{}, err
		}
		return im, input{Name: fmt.Sprintf("synthetic %s", human(mib<<20)), Layout: im.Dir, Tag: synth.Tag, BlobBytes: blobBytes(im.Dir, synth.Tag)}, nil
	}
	if c.synthMiB > 0 && slices.Contains(c.sections, "disk") {
		_, in, err := ensure(c.synthMiB)
		if err != nil {
			return err
		}
		inputs = append(inputs, in)
	}
	sections := map[string]func() error{
		"disk":  func() error { return diskSection(ctx, c, r, res, inputs, save) },
		"scale": func() error { return scaleAll(ctx, c, r, res, ensure, save) },
		"publish": func() error {
			if len(inputs) == 0 {
				return nil
			}
			pr, err := r.publishBench(ctx, inputs[0], c.concurrency, c.publishRuns)
			res.Publish = pr
			return err
		},
		"go": func() error {
			logf("go benchmarks (-count %d)", c.goCount)
			raw, lines, err := runGoBench(ctx, c.goCmd, c.goCount)
			res.GoRaw, res.Go = raw, lines
			return err
		},
	}
	for _, name := range c.sections {
		run, ok := sections[name]
		if !ok {
			return fmt.Errorf("-sections: unknown section %q (want disk, scale, publish, go)", name)
		}
		if err := run(); err != nil {
			return err
		}
		if err := save(false); err != nil {
			return err
		}
	}
	return nil
}

// diskSection compares core, reference and floor on every input.
func diskSection(ctx context.Context, c *config, r *runner, res *results, inputs []input, save func(bool) error) error {
	withRef := refMissing() == ""
	for _, in := range inputs {
		if c.cpuprofile != "" {
			if err := profile(ctx, r, in, c.cpuprofile); err != nil {
				return err
			}
		}
		runs := c.runs
		if strings.HasPrefix(in.Name, "synthetic") {
			runs = c.synthRuns
		}
		cmp := &comparison{Input: in}
		res.Compare = append(res.Compare, cmp)
		if err := r.compare(ctx, cmp, c.warm, runs, withRef, func() error { return save(false) }); err != nil {
			return err
		}
	}
	return nil
}

func scaleAll(ctx context.Context, c *config, r *runner, res *results, ensure func(int64) (*synth.Image, input, error), save func(bool) error) error {
	for _, mib := range c.scale {
		im, in, err := ensure(int64(mib))
		if err != nil {
			return err
		}
		if cmp := findCompare(res, in.Layout); cmp != nil {
			res.Scale = append(res.Scale, &scalePoint{Size: im.Size, Files: im.Files, Samples: cmp.Core})
			continue
		}
		runs := c.scaleRuns
		if mib >= 4096 {
			runs = c.largeRuns
			res.Notes = append(res.Notes, fmt.Sprintf("The %s scaling point has %d measured run(s) to keep `make bench` short.", human(im.Size), runs))
		}
		p, err := r.scale(ctx, in, im.Size, im.Files, runs)
		if err != nil {
			return err
		}
		res.Scale = append(res.Scale, p)
		if err := save(false); err != nil {
			return err
		}
	}
	return nil
}

func findCompare(res *results, layout string) *comparison {
	for _, c := range res.Compare {
		if c.Input.Layout == layout {
			return c
		}
	}
	return nil
}

// profile runs the core once more with a CPU and a heap profile, untimed.
func profile(ctx context.Context, r *runner, in input, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	base := filepath.Join(dir, strings.ReplaceAll(in.Name, " ", "-"))
	logf("%s: profiling the core into %s.{cpu,allocs}", in.Name, base)
	_, err := r.core(ctx, in, "-cpuprofile", base+".cpu", "-memprofile", base+".allocs")
	return err
}

// defaultInput builds (or finds cached) the default test derivative.
// The layout is hardlinked into the bench cache: tests running beside the
// benchmark may rebuild the derivative cache and remove the original.
func defaultInput(ctx context.Context, cache string) (input, error) {
	logf("default test derivative: building or reusing (cold build needs root and mmdebstrap)")
	b, err := derivative.Build(ctx, derivative.Variant{Generation: 2, Version: "A"}, derivative.Options{})
	if err != nil {
		return input{}, fmt.Errorf("building the default test derivative: %w", err)
	}
	dir := filepath.Join(cache, "derivative-"+b.Tag+"-"+strings.TrimPrefix(b.Digest, "sha256:")[:16])
	if _, err := os.Stat(filepath.Join(dir, "index.json")); err != nil {
		os.RemoveAll(dir)
		if out, err := exec.CommandContext(ctx, "cp", "-al", b.LayoutDir, dir).CombinedOutput(); err != nil {
			return input{}, fmt.Errorf("linking %s to %s: %w: %s", b.LayoutDir, dir, err, out)
		}
	}
	return input{Name: "default test derivative " + b.Tag, Layout: dir, Tag: b.Tag, BlobBytes: blobBytes(dir, b.Tag)}, nil
}

func blobBytes(dir, tag string) int64 {
	blobs, err := layerBlobs(dir, tag)
	if err != nil {
		return 0
	}
	var n int64
	for _, b := range blobs {
		if a, _, err := fileSizes(b); err == nil {
			n += a
		}
	}
	return n
}

// writeResults writes the markdown and the samples and updates the doc's
// results section; the final call also prints the markdown.
func writeResults(c *config, res *results, final bool) error {
	md := res.markdown()
	if final {
		fmt.Print(md)
	}
	if err := os.MkdirAll(filepath.Dir(c.out), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(c.out, []byte(md), 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", c.out, err)
	}
	js, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(strings.TrimSuffix(c.out, filepath.Ext(c.out))+".json", js, 0o644); err != nil {
		return err
	}
	if c.doc == "" {
		return nil
	}
	return replaceSection(c.doc, md)
}

const (
	beginMark = "<!-- bench:results:begin -->"
	endMark   = "<!-- bench:results:end -->"
)

// replaceSection puts md between the result markers of the doc.
func replaceSection(doc, md string) error {
	b, err := os.ReadFile(doc)
	if err != nil {
		return fmt.Errorf("reading %s: %w", doc, err)
	}
	s := string(b)
	i, j := strings.Index(s, beginMark), strings.Index(s, endMark)
	if i < 0 || j < i {
		return fmt.Errorf("updating %s: no %s … %s markers", doc, beginMark, endMark)
	}
	s = s[:i+len(beginMark)] + "\n" + md + "\n" + s[j:]
	return os.WriteFile(doc, []byte(s), 0o644)
}
