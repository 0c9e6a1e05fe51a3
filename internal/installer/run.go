package installer

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/elemental-suite/elemental/internal/diskformat"
	"github.com/elemental-suite/elemental/internal/inspect"
	"github.com/elemental-suite/elemental/internal/layout"
	"github.com/elemental-suite/elemental/internal/oci"
	"github.com/elemental-suite/elemental/internal/rootfs"
)

// Output is one disk file written.
type Output struct {
	Format diskformat.Format
	Path   string
	Size   int64 // apparent size in bytes
}

// Result describes a built disk.
type Result struct {
	Source        string
	Digest        string // manifest digest of the image built
	Platform      string
	Generation    inspect.Generation
	KernelVersion string
	OSRelease     map[string]string
	Outputs       []Output
	DiskSize      int64
	Partitions    []layout.Partition
	Warnings      []string
	Time          time.Time // the timestamp the disk carries
}

// Inspection is what Inspect learns about a derivative without building.
type Inspection struct {
	Source   string
	Digest   string
	Platform string
	Report   *inspect.Report
	Stats    rootfs.Stats // of the system tree (default excludes applied)
	Created  time.Time
}

// Inspect opens and validates a derivative: one pass over the layer
// headers. A derivative that lacks required parts gives an
// *inspect.MissingError naming all of them.
func Inspect(ctx context.Context, spec Spec, opts ...Option) (*Inspection, error) {
	o := makeOptions(opts)
	spec.setDefaults()
	cache, cleanup, err := cacheDir(spec)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	src, err := open(ctx, spec, cache, o)
	if err != nil {
		return nil, err
	}
	return inspectSource(ctx, spec, src, o)
}

func open(ctx context.Context, spec Spec, cache string, o *options) (*oci.Source, error) {
	o.progress(Event{Phase: PhaseOpen, Message: spec.Source})
	src, err := oci.Open(ctx, spec.Source, oci.Options{
		Platform: spec.Platform, Username: spec.Username, Password: spec.Password,
		Insecure: spec.Insecure, CacheDir: cache,
	})
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", spec.Source, err)
	}
	if err := verifySource(ctx, spec, src, o); err != nil {
		return nil, err
	}
	return src, nil
}

func inspectSource(ctx context.Context, spec Spec, src *oci.Source, o *options) (*Inspection, error) {
	arch, _ := archNames(spec.Platform)
	in := inspect.New(arch)
	counter := &rootfs.Counter{}
	start := time.Now()
	o.progress(Event{Phase: PhaseInspect, Message: "reading layer headers"})
	if err := src.Walk(ctx, rootfs.Tee(in, newSystemTree(counter, inspect.GenerationUnknown, time.Time{}))); err != nil {
		return nil, fmt.Errorf("reading %s: %w", spec.Source, err)
	}
	report, err := in.Report(spec.Generation)
	if err != nil {
		return nil, err
	}
	counter.Stats = counter.Stats.Add(extraStats(report.Generation))
	o.progress(Event{Phase: PhaseInspect, Message: fmt.Sprintf("toolkit %s, kernel %s, %d entries", report.Generation, report.KernelVersion, counter.Stats.Entries), Files: counter.Stats.Entries, Elapsed: time.Since(start)})
	return &Inspection{
		Source: spec.Source, Digest: src.Digest.String(), Platform: spec.Platform,
		Report: report, Stats: counter.Stats, Created: src.Created,
	}, nil
}

// Run builds the disk the spec describes.
func Run(ctx context.Context, spec Spec, opts ...Option) (*Result, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	spec.setDefaults()
	o := makeOptions(opts)
	start := time.Now()
	cache, cleanup, err := cacheDir(spec)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	src, err := open(ctx, spec, cache, o)
	if err != nil {
		return nil, err
	}
	insp, err := inspectSource(ctx, spec, src, o)
	if err != nil {
		return nil, err
	}
	b, err := newBuild(spec, insp, o)
	if err != nil {
		return nil, err
	}
	made, err := makeOutputDir(spec.OutputDir)
	if err != nil {
		return nil, err
	}
	outs, err := b.writeAndEmit(ctx, src)
	if err != nil {
		removeMadeDirs(spec.OutputDir, made)
		return nil, err
	}
	o.progress(Event{Phase: PhaseDone, Message: "disk ready", Elapsed: time.Since(start)})
	return &Result{
		Source: spec.Source, Digest: insp.Digest, Platform: spec.Platform,
		Generation: insp.Report.Generation, KernelVersion: insp.Report.KernelVersion,
		OSRelease: insp.Report.OSRelease, Outputs: outs, DiskSize: b.plan.DiskSize,
		Partitions: b.plan.Partitions, Warnings: insp.Report.Warnings, Time: b.time,
	}, nil
}

// cacheDir gives the compressed-layer cache for the two passes.
func cacheDir(spec Spec) (string, func(), error) {
	if spec.CacheDir != "" {
		return spec.CacheDir, func() {}, nil
	}
	d, err := os.MkdirTemp("", "elemental-layers-")
	if err != nil {
		return "", nil, fmt.Errorf("creating layer cache: %w", err)
	}
	return d, func() { os.RemoveAll(d) }, nil
}

func (b *build) writeAndEmit(ctx context.Context, src *oci.Source) ([]Output, error) {
	if err := b.write(ctx, src); err != nil {
		return nil, err
	}
	return b.emit(ctx)
}

// makeOutputDir creates the output directory when it is missing, as
// `mkdir -p` would, and returns the topmost directory it created ("" when
// it already existed) so a failed build can take it away again.
func makeOutputDir(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("output directory %s: %w", dir, err)
	}
	top := ""
	for d := abs; ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil {
			break
		}
		top = d
		if filepath.Dir(d) == d {
			break
		}
	}
	if top == "" {
		return "", nil
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return "", fmt.Errorf("creating output directory %s: %w", dir, err)
	}
	return top, nil
}

// removeMadeDirs removes the directories makeOutputDir created, deepest
// first; os.Remove leaves any directory that is not empty.
func removeMadeDirs(dir, top string) {
	if top == "" {
		return
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return
	}
	for d := abs; ; d = filepath.Dir(d) {
		os.Remove(d)
		if d == top || filepath.Dir(d) == d {
			return
		}
	}
}
