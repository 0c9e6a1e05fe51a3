package installer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/elemental-suite/elemental/internal/blockstream"
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
	// Streamed counts the blocks of a disk written by Stream (nil for
	// files).
	Streamed *blockstream.Stats
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
	src, err := open(ctx, spec, cache, "", o)
	if err != nil {
		return nil, err
	}
	return inspectSource(ctx, spec, src, o)
}

// open opens the source with its compressed-layer cache and, for builds
// that walk it twice, a spill directory for the decompressed layers.
func open(ctx context.Context, spec Spec, cache, spill string, o *options) (*oci.Source, error) {
	o.progress(Event{Phase: PhaseOpen, Message: spec.Source})
	src, err := oci.Open(ctx, spec.Source, oci.Options{
		Platform: spec.Platform, Username: spec.Username, Password: spec.Password,
		Insecure: spec.Insecure, CacheDir: cache, SpillDir: spill,
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

// Run builds the disk the spec describes into files in Spec.OutputDir.
func Run(ctx context.Context, spec Spec, opts ...Option) (*Result, error) {
	if err := spec.validateFiles(); err != nil {
		return nil, err
	}
	p, err := Prepare(ctx, spec, opts...)
	if err != nil {
		return nil, err
	}
	defer p.Close()
	return p.Write(ctx)
}

// Prepared is a derivative opened, verified, inspected and laid out: all a
// build learns before it writes a byte. Its Size is the disk's, so a
// publisher can start a snapshot of the right size before the disk exists.
// A Prepared writes once (Write or Stream); Close removes its layer cache
// and spill.
type Prepared struct {
	b       *build
	src     *oci.Source
	cleanup func()
	start   time.Time
	used    bool
	res     *Result
}

// Prepare runs everything of a build up to the first write: the spec is
// validated (OutputDir may be empty: only Write needs it), the source
// opened (and its signature checked), the layers' headers read and the
// disk planned.
func Prepare(ctx context.Context, spec Spec, opts ...Option) (_ *Prepared, err error) {
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
	defer func() {
		if err != nil {
			cleanup()
		}
	}()
	// The first pass keeps the layers it inflates for the second (see
	// internal/oci's spill.go): inflating once saved 1.7 s of the default
	// derivative's 5.9 s build.
	spill, err := os.MkdirTemp("", "elemental-spill-")
	if err != nil {
		return nil, fmt.Errorf("creating layer spill directory: %w", err)
	}
	cleanCache := cleanup
	cleanup = func() { os.RemoveAll(spill); cleanCache() }
	src, err := open(ctx, spec, cache, spill, o)
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
	return &Prepared{b: b, src: src, cleanup: cleanup, start: start}, nil
}

// Close removes the layer cache a remote source was read into and the
// layers the first pass kept for the second.
func (p *Prepared) Close() error {
	p.cleanup()
	return nil
}

// Name names the source.
func (p *Prepared) Name() string { return p.b.spec.Source }

// Size is the size of the disk in bytes.
func (p *Prepared) Size() int64 { return p.b.plan.DiskSize }

// Inspection is what the first pass learned.
func (p *Prepared) Inspection() *Inspection { return p.b.insp }

// Write writes the disk in every format of the spec to its output
// directory.
func (p *Prepared) Write(ctx context.Context) (*Result, error) {
	if p.b.spec.OutputDir == "" {
		return nil, errNoOutputDir
	}
	if err := p.use(); err != nil {
		return nil, err
	}
	made, err := makeOutputDir(p.b.spec.OutputDir)
	if err != nil {
		return nil, err
	}
	outs, err := p.b.writeAndEmit(ctx, p.src)
	if err != nil {
		removeMadeDirs(p.b.spec.OutputDir, made)
		return nil, err
	}
	return p.result(outs, nil), nil
}

// Stream writes the disk to fn instead of a file, in whole blocks of
// blockSize bytes as internal/blockstream assembles them: each block at
// most once, as soon as it is complete, in no particular order, all-zero
// blocks left out. No output file is written and Spec.Formats is ignored.
// On error or cancellation fn may have seen some blocks; the caller
// discards what it made of them.
func (p *Prepared) Stream(ctx context.Context, blockSize int64, fn blockstream.EmitFunc) (*Result, error) {
	if err := p.use(); err != nil {
		return nil, err
	}
	a, err := blockstream.New(p.b.plan.DiskSize, blockSize, fn, blockstream.Options{})
	if err != nil {
		return nil, err
	}
	if err := p.b.writeDisk(ctx, p.src, a); err != nil {
		a.Abort()
		return nil, err
	}
	// A cancel that arrived while the last partition was written must not
	// end in a complete disk.
	if err := ctx.Err(); err != nil {
		a.Abort()
		return nil, err
	}
	if err := a.Close(); err != nil {
		return nil, fmt.Errorf("streaming the disk: %w", err)
	}
	st := a.Stats()
	p.b.o.progress(Event{Phase: PhaseDone, Message: fmt.Sprintf("disk streamed: %d blocks, at most %d buffered", st.Emitted, st.PeakPartial), Elapsed: time.Since(p.start)})
	return p.result(nil, &st), nil
}

// Blocks is Stream for consumers that want a disk as Name, Size and
// Blocks (publish/aws.Source); Result has the build's result afterwards.
func (p *Prepared) Blocks(ctx context.Context, blockSize int64, fn func(off int64, data []byte) error) error {
	res, err := p.Stream(ctx, blockSize, fn)
	p.res = res
	return err
}

// Result is the result of the last Blocks call (nil before or after a
// failure).
func (p *Prepared) Result() *Result { return p.res }

func (p *Prepared) use() error {
	if p.used {
		return errors.New("installer: a prepared build writes once")
	}
	p.used = true
	return nil
}

func (p *Prepared) result(outs []Output, st *blockstream.Stats) *Result {
	b := p.b
	if st == nil {
		b.o.progress(Event{Phase: PhaseDone, Message: "disk ready", Elapsed: time.Since(p.start)})
	}
	return &Result{
		Source: b.spec.Source, Digest: b.insp.Digest, Platform: b.spec.Platform,
		Generation: b.insp.Report.Generation, KernelVersion: b.insp.Report.KernelVersion,
		OSRelease: b.insp.Report.OSRelease, Outputs: outs, DiskSize: b.plan.DiskSize,
		Partitions: b.plan.Partitions, Warnings: b.insp.Report.Warnings, Time: b.time, Streamed: st,
	}
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
