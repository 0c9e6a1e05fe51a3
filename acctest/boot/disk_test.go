package boot

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/elemental-suite/elemental/acctest/derivative"
	"github.com/elemental-suite/elemental/acctest/qemu"
	"github.com/elemental-suite/elemental/internal/diskformat"
	"github.com/elemental-suite/elemental/internal/installer"
)

// buildTimeout bounds one derivative build plus one disk write (a cold
// derivative build runs mmdebstrap; a cached one takes seconds).
const buildTimeout = 15 * time.Minute

// workDir holds the disks of this test binary run; TestMain removes it.
var workDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "acctest-boot-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "creating the boot test directory:", err)
		os.Exit(1)
	}
	workDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// needBoot skips unless this machine can build derivatives and boot them.
func needBoot(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("slow: builds test derivatives and boots disks under QEMU (skipped with -short)")
	}
	if os.Geteuid() != 0 {
		t.Skip("boot tests need root (mmdebstrap and chroot build the test derivatives)")
	}
	for _, tool := range []string{"qemu-system-x86_64", "qemu-img", "mmdebstrap", "chroot", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("boot tests need %s: %v", tool, err)
		}
	}
	for _, f := range []string{qemu.DefaultOVMFCode, qemu.DefaultOVMFVars} {
		if _, err := os.Stat(f); err != nil {
			t.Skipf("boot tests need OVMF (Debian package ovmf): %v", err)
		}
	}
}

// disk is one generation's disk, written by the core from version A.
type disk struct {
	gen    int
	a      *derivative.Built
	res    *installer.Result
	path   string
	took   time.Duration
	format diskformat.Format
}

// diskCache builds each generation's disk once per test binary run.
var diskCache [3]struct {
	once sync.Once
	d    *disk
	err  error
}

// diskFor returns the shared disk of generation gen, building it on first
// use. v2 is written as qcow2 and v1 as raw, so both writers get booted.
func diskFor(t *testing.T, gen int) *disk {
	t.Helper()
	c := &diskCache[gen]
	c.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
		defer cancel()
		c.d, c.err = buildDisk(ctx, gen)
	})
	if c.err != nil {
		t.Fatalf("building the v%d disk: %v", gen, c.err)
	}
	t.Logf("v%d disk %s (%s, %d MiB), written in %s", gen, c.d.path, c.d.format, c.d.res.DiskSize>>20, c.d.took.Round(time.Second))
	return c.d
}

func buildDisk(ctx context.Context, gen int) (*disk, error) {
	start := time.Now()
	a, err := buildVariant(ctx, gen, "A")
	if err != nil {
		return nil, err
	}
	// Both generations get the core's default recovery: a squashfs, gzip
	// for v2 and xz for v1, whose GRUB loop-mounts recovery.img to read the
	// kernel (GRUB 2.06's gzio rejects some deflate blocks Go's
	// compress/flate writes, its xzio reads the core's xz).
	format := diskformat.QCOW2
	if gen == 1 {
		format = diskformat.Raw
	}
	out := filepath.Join(workDir, fmt.Sprintf("v%d", gen))
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, fmt.Errorf("creating the disk directory: %w", err)
	}
	res, err := installer.Run(ctx, installer.Spec{
		Source:    "oci-layout:" + a.LayoutDir + ":" + a.Tag,
		OutputDir: out,
		Name:      fmt.Sprintf("boot-v%d", gen),
		Formats:   []diskformat.Format{format},
	})
	if err != nil {
		return nil, fmt.Errorf("writing the disk from %s: %w", a.Tag, err)
	}
	return &disk{gen: gen, a: a, res: res, path: res.Outputs[0].Path, took: time.Since(start), format: format}, nil
}

// buildVariant builds (or takes from the cache) one test derivative; the
// tool output goes to a log file in workDir.
func buildVariant(ctx context.Context, gen int, version string) (*derivative.Built, error) {
	v := derivative.Variant{Generation: gen, Version: version}
	var log io.Writer = io.Discard
	f, err := os.Create(filepath.Join(workDir, "derivative-"+v.String()+".log"))
	if err == nil {
		defer f.Close()
		log = f
	}
	b, err := derivative.Build(ctx, v, derivative.Options{Log: log})
	if err != nil {
		return nil, fmt.Errorf("building test derivative %s: %w", v, err)
	}
	return b, nil
}
