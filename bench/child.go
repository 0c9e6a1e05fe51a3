package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/metrics"
	"runtime/pprof"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/elemental-suite/elemental/internal/diskformat"
	"github.com/elemental-suite/elemental/internal/installer"
)

// epoch is the SOURCE_DATE_EPOCH of every benchmark build.
const epoch = 1700000000

// coreResult is what the core child reports.
type coreResult struct {
	Disk       string      `json:"disk"`
	DiskSize   int64       `json:"disk_size"`
	Partitions []partition `json:"partitions"`
}

type partition struct {
	Name   string `json:"name"`
	Offset int64  `json:"offset"`
	Size   int64  `json:"size"`
}

// runCore is the "core" child: one installer.Run to a raw disk.
func runCore(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("core", flag.ContinueOnError)
	source := fs.String("source", "", "installer source reference")
	out := fs.String("out", "", "output directory")
	name := fs.String("name", "core", "disk name")
	jsonOut := fs.String("json", "", "write the result as JSON to this file")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile to this file")
	memprofile := fs.String("memprofile", "", "write a heap profile to this file at the end")
	peakprofile := fs.String("peakprofile", "", "write a heap profile to this file whenever the live heap reaches a new high")
	verbose := fs.Bool("v", false, "print progress events with their time to stderr")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return fmt.Errorf("creating cpu profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("starting cpu profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	if *peakprofile != "" {
		stop := watchPeak(*peakprofile)
		defer stop()
	}
	var opts []installer.Option
	if *verbose {
		start := time.Now()
		opts = append(opts, installer.WithProgress(func(e installer.Event) {
			if e.Phase != installer.PhaseWrite || e.Files == 0 {
				fmt.Fprintf(os.Stderr, "%7.2fs %-9s %s\n", time.Since(start).Seconds(), e.Phase, e.Message)
			}
		}))
	}
	res, err := installer.Run(ctx, installer.Spec{
		Source: *source, OutputDir: *out, Name: *name, Formats: []diskformat.Format{diskformat.Raw},
		Overwrite: true, SourceDateEpoch: epoch,
	}, opts...)
	if err != nil {
		return err
	}
	if *memprofile != "" {
		if err := writeHeapProfile(*memprofile); err != nil {
			return err
		}
	}
	r := coreResult{Disk: res.Outputs[0].Path, DiskSize: res.DiskSize}
	for _, p := range res.Partitions {
		r.Partitions = append(r.Partitions, partition{Name: p.Name, Offset: p.Offset, Size: p.Size})
	}
	return writeJSON(*jsonOut, r)
}

// writeJSON writes a child's result for the parent; no path, no file.
func writeJSON(path string, v any) error {
	if path == "" {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// readJSON reads the result a child wrote with writeJSON.
func readJSON(path, what string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading %s result: %w", what, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("reading %s result: %w", what, err)
	}
	return nil
}

func writeHeapProfile(p string) error {
	f, err := os.Create(p)
	if err != nil {
		return fmt.Errorf("creating heap profile: %w", err)
	}
	defer f.Close()
	return pprof.Lookup("allocs").WriteTo(f, 0)
}

// runExtract is the "extract" child: the flattened root filesystem of the
// image tagged tag in the OCI layout dir, as a tar stream on stdout.
func runExtract(args []string) error {
	if len(args) != 2 {
		return errors.New("usage: bench extract LAYOUT-DIR TAG")
	}
	img, err := layoutImage(args[0], args[1])
	if err != nil {
		return err
	}
	rc := mutate.Extract(img)
	defer rc.Close()
	w := bufio.NewWriterSize(os.Stdout, 1<<20)
	if _, err := io.Copy(w, rc); err != nil {
		return fmt.Errorf("extracting %s: %w", args[0], err)
	}
	return w.Flush()
}

// layoutImage finds the image annotated with tag in an OCI layout.
func layoutImage(dir, tag string) (v1.Image, error) {
	p, err := layout.FromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("opening layout %s: %w", dir, err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		return nil, fmt.Errorf("reading index of %s: %w", dir, err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("reading index of %s: %w", dir, err)
	}
	for _, d := range m.Manifests {
		if d.Annotations["org.opencontainers.image.ref.name"] == tag {
			return idx.Image(d.Digest)
		}
	}
	return nil, fmt.Errorf("layout %s has no image tagged %q", dir, tag)
}

// layerBlobs returns the paths of the compressed layer blobs of an image
// in a layout, base first.
func layerBlobs(dir, tag string) ([]string, error) {
	img, err := layoutImage(dir, tag)
	if err != nil {
		return nil, err
	}
	m, err := img.Manifest()
	if err != nil {
		return nil, fmt.Errorf("reading manifest in %s: %w", dir, err)
	}
	var out []string
	for _, l := range m.Layers {
		out = append(out, fmt.Sprintf("%s/blobs/%s/%s", dir, l.Digest.Algorithm, l.Digest.Hex))
	}
	return out, nil
}

// watchPeak polls the live heap (as of the last GC) every 100 ms and
// rewrites a heap profile at path each time it grows by 2% over the
// highest seen, so the profile shows what is held at the peak. The
// returned func stops it and reports the peak on stderr.
func watchPeak(path string) func() {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
		var peak uint64
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				fmt.Fprintf(os.Stderr, "peak live heap %.1f MiB\n", float64(peak)/(1<<20))
				return
			case <-tick.C:
			}
			metrics.Read(sample)
			if live := sample[0].Value.Uint64(); live > peak+peak/50 {
				peak = live
				if f, err := os.Create(path); err == nil {
					pprof.Lookup("heap").WriteTo(f, 0)
					f.Close()
				}
			}
		}
	}()
	return func() { close(done); <-finished }
}
