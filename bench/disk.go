package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// input is one derivative to build.
type input struct {
	Name        string
	Layout, Tag string
	BlobBytes   int64 // compressed layer bytes
}

func (in input) ref() string { return "oci-layout:" + in.Layout + ":" + in.Tag }

// comparison holds the samples of one input, warm-up excluded.
type comparison struct {
	Input             input
	Core, Ref, Floor  []sample
	RefSkipped        string // why the reference did not run
	CoreProfile, Note string
}

// runner runs the child processes.
type runner struct {
	bin, scripts, work string
	log                func(format string, a ...any)
	last               *coreResult // partitions of the latest core disk
}

// scratch returns a fresh, empty scratch directory.
func (r *runner) scratch(name string) (string, error) {
	d := filepath.Join(r.work, name)
	if err := os.RemoveAll(d); err != nil {
		return "", fmt.Errorf("clearing %s: %w", d, err)
	}
	return d, os.MkdirAll(d, 0o755)
}

// clean removes a scratch directory and writes back dirty pages, outside
// any measurement.
func (r *runner) clean(d string) {
	os.RemoveAll(d)
	settle()
}

// core builds in's disk with installer.Run in a child; extra are more
// flags for the child (-cpuprofile).
func (r *runner) core(ctx context.Context, in input, extra ...string) (sample, error) {
	d, err := r.scratch("core")
	if err != nil {
		return sample{}, err
	}
	defer r.clean(d)
	js := filepath.Join(d, "result.json")
	args := append([]string{"core", "-source", in.ref(), "-out", d, "-json", js}, extra...)
	cmd := command(ctx, d, r.bin, args...)
	// Its temporary files (the layer spill, the file systems' spilled
	// tables) go to the measured scratch directory too.
	cmd.Env = append(os.Environ(), "TMPDIR="+d)
	cmd.Stderr = os.Stderr
	s, err := measure(ctx, cmd, d, true)
	if err != nil {
		return s, fmt.Errorf("core build of %s: %w", in.Name, err)
	}
	res := &coreResult{}
	if err := readJSON(js, "core", res); err != nil {
		return s, err
	}
	r.last = res
	s.Apparent, s.Allocated, err = fileSizes(res.Disk)
	return s, err
}

// reference builds in's disk with reference.sh, with the partition sizes
// of the latest core disk.
func (r *runner) reference(ctx context.Context, in input) (sample, error) {
	if r.last == nil {
		return sample{}, fmt.Errorf("reference build of %s: no core disk to take the layout from", in.Name)
	}
	d, err := r.scratch("reference")
	if err != nil {
		return sample{}, err
	}
	defer r.clean(d)
	out := filepath.Join(d, "reference.raw")
	cmd := command(ctx, d, "bash", filepath.Join(r.scripts, "reference.sh"))
	cmd.Env = append(os.Environ(), "BENCH="+r.bin, "LAYOUT="+in.Layout, "TAG="+in.Tag,
		"WORK="+filepath.Join(d, "work"), "OUT="+out)
	env := map[string]string{"efi": "EFI_MIB", "oem": "OEM_MIB", "recovery": "REC_MIB", "state": "STATE_MIB", "persistent": "PER_MIB"}
	for _, p := range r.last.Partitions {
		if k, ok := env[p.Name]; ok {
			cmd.Env = append(cmd.Env, k+"="+strconv.FormatInt(p.Size>>20, 10))
		}
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	s, err := measure(ctx, cmd, d, false)
	if err != nil {
		return s, fmt.Errorf("reference build of %s: %w: %s", in.Name, err, lastLines(stderr.String(), 5))
	}
	s.Stages = parseStages(stderr.String())
	s.Apparent, s.Allocated, err = fileSizes(out)
	return s, err
}

// floor decompresses every layer blob of in to a file and fsyncs them.
func (r *runner) floor(ctx context.Context, in input) (sample, error) {
	blobs, err := layerBlobs(in.Layout, in.Tag)
	if err != nil {
		return sample{}, err
	}
	d, err := r.scratch("floor")
	if err != nil {
		return sample{}, err
	}
	defer r.clean(d)
	cmd := command(ctx, d, "bash", append([]string{filepath.Join(r.scripts, "floor.sh"), d}, blobs...)...)
	cmd.Stderr = os.Stderr
	s, err := measure(ctx, cmd, d, false)
	if err != nil {
		return s, fmt.Errorf("floor of %s: %w", in.Name, err)
	}
	for i := range blobs {
		a, b, _ := fileSizes(filepath.Join(d, fmt.Sprintf("layer%d.tar", i)))
		s.Apparent += a
		s.Allocated += b
	}
	return s, nil
}

// compare runs core, reference and floor in turn into c, warm rounds
// discarded, calling saved after every measured round.
func (r *runner) compare(ctx context.Context, c *comparison, warm, runs int, withRef bool, saved func() error) error {
	in := c.Input
	if !withRef {
		c.RefSkipped = refMissing()
	}
	if warm == 0 {
		if err := warmCache(in); err != nil {
			return err
		}
	}
	for round := range warm + runs {
		tag := fmt.Sprintf("%d/%d", round+1-warm, runs)
		if round < warm {
			tag = "warm-up"
		}
		cs, err := r.core(ctx, in)
		if err != nil {
			return err
		}
		r.log("%s: core %s: %s", in.Name, tag, cs.brief())
		var rs sample
		// The warm-up round skips the reference: it reads the same
		// blobs, which the core's warm-up has brought into the cache.
		if withRef && round >= warm {
			if rs, err = r.reference(ctx, in); err != nil {
				return err
			}
			r.log("%s: reference %s: %s", in.Name, tag, rs.brief())
		}
		fs, err := r.floor(ctx, in)
		if err != nil {
			return err
		}
		r.log("%s: floor %s: %s", in.Name, tag, fs.brief())
		if round < warm {
			continue
		}
		c.Core, c.Floor = append(c.Core, cs), append(c.Floor, fs)
		if withRef {
			c.Ref = append(c.Ref, rs)
		}
		if err := saved(); err != nil {
			return err
		}
	}
	return nil
}

// scalePoint is the core at one synthetic size.
type scalePoint struct {
	Size    int64
	Files   int64
	Samples []sample
}

func (r *runner) scale(ctx context.Context, in input, size, files int64, runs int) (*scalePoint, error) {
	p := &scalePoint{Size: size, Files: files}
	if err := warmCache(in); err != nil {
		return nil, err
	}
	for round := range runs {
		s, err := r.core(ctx, in)
		if err != nil {
			return nil, err
		}
		r.log("scale %s: core %d/%d: %s", human(size), round+1, runs, s.brief())
		p.Samples = append(p.Samples, s)
	}
	return p, nil
}

// warmCache reads every layer blob once so that the page cache holds them.
func warmCache(in input) error {
	blobs, err := layerBlobs(in.Layout, in.Tag)
	if err != nil {
		return err
	}
	for _, b := range blobs {
		f, err := os.Open(b)
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, f)
		f.Close()
		if err != nil {
			return fmt.Errorf("reading %s: %w", b, err)
		}
	}
	return nil
}

func (s sample) brief() string {
	return fmt.Sprintf("wall %.1fs cpu %.1fs rss %s scratch %s (own files %s) out %s/%s",
		s.Wall.Seconds(), s.CPU().Seconds(), human(s.MaxRSS), human(s.Scratch), human(s.PeakFiles), human(s.Apparent), human(s.Allocated))
}

// refMissing names what the reference pipeline lacks here, or "".
func refMissing() string {
	if os.Geteuid() != 0 {
		return "needs root (tar -x keeps owners, devices and xattrs only as root)"
	}
	for _, t := range []string{"tar", "gzip", "mkfs.ext2", "mkfs.ext4", "mksquashfs", "mkfs.vfat", "mcopy", "mmd", "sgdisk", "dd", "truncate"} {
		if _, err := exec.LookPath(t); err != nil {
			return "needs " + t
		}
	}
	return ""
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], " | ")
}

func human(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.0f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
