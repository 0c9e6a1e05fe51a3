package diskformat

import (
	"compress/flate"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"time"
)

// Options tunes a conversion. The zero value is valid and deterministic.
type Options struct {
	// Time is written wherever a format stores a timestamp (VHD footer,
	// tar header, gzip header). The zero value writes the format's epoch
	// or zero, never the clock.
	Time time.Time
	// Seed derives identifiers (VHD unique id, VMDK content id). The same
	// seed and input give the same bytes.
	Seed string
	// GzipLevel is the deflate level for gce and vmdk: 1 (fastest) to 9
	// (best); 0 means the default level (6).
	GzipLevel int
	// Workers bounds parallel compression for gce and vmdk; 0 means
	// GOMAXPROCS. The output does not depend on it.
	Workers int
}

const (
	copyBufSize = 1 << 20
	kib         = int64(1) << 10
	mib         = int64(1) << 20
	gib         = int64(1) << 30
)

func (o Options) level() (int, error) {
	switch {
	case o.GzipLevel == 0:
		return flate.DefaultCompression, nil
	case o.GzipLevel >= flate.BestSpeed && o.GzipLevel <= flate.BestCompression:
		return o.GzipLevel, nil
	}
	return 0, fmt.Errorf("gzip level %d (want 0 or 1-9): %w", o.GzipLevel, ErrInvalidOption)
}

func (o Options) workers() int {
	if o.Workers > 0 {
		return o.Workers
	}
	return runtime.GOMAXPROCS(0)
}

// Convert writes the sparse raw disk raw to dst in format f, streaming:
// the raw file is read once (data extents only) and memory stays bounded
// whatever the disk size. When dst is a regular *os.File positioned at its
// end, zero runs of the output (holes of a raw or vhd disk, mostly) become
// holes in dst, which is extended to its final size; other writers get
// every zero written. The bytes are the same either way.
func Convert(ctx context.Context, raw *os.File, f Format, dst io.Writer, opts Options) error {
	if opts.Workers < 0 {
		return fmt.Errorf("converting %s to %s: workers %d: %w", raw.Name(), f, opts.Workers, ErrInvalidOption)
	}
	if _, err := opts.level(); err != nil {
		return fmt.Errorf("converting %s to %s: %w", raw.Name(), f, err)
	}
	exts, err := Extents(raw)
	if err != nil {
		return err
	}
	var write func(context.Context, *os.File, []Extent, io.Writer, Options) error
	switch f {
	case Raw:
		write = writeRaw
	case QCOW2:
		write = writeQCOW2
	case VHD:
		write = writeVHD
	case VMDK:
		write = writeVMDK
	case GCE:
		write = writeGCE
	default:
		return fmt.Errorf("converting %s to %s: %w", raw.Name(), f, ErrUnknownFormat)
	}
	if err := write(ctx, raw, exts, dst, opts); err != nil {
		return fmt.Errorf("converting %s to %s: %w", raw.Name(), f, err)
	}
	return nil
}

// ConvertFile converts the raw disk at rawPath into dstPath atomically: it
// writes a temporary file in dstPath's directory, syncs it and renames it
// over dstPath. On any error, cancellation included, the temporary file is
// removed and dstPath is left as it was.
func ConvertFile(ctx context.Context, rawPath string, f Format, dstPath string, opts Options) (err error) {
	raw, err := os.Open(rawPath)
	if err != nil {
		return fmt.Errorf("opening raw disk: %w", err)
	}
	defer raw.Close()
	dir, base := filepath.Split(dstPath)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fmt.Errorf("creating temporary file for %s: %w", dstPath, err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if err := Convert(ctx, raw, f, tmp, opts); err != nil {
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("setting mode of %s: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("closing %s: %w", tmp.Name(), err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("converting %s to %s: %w", rawPath, f, err)
	}
	if err := os.Rename(tmp.Name(), dstPath); err != nil {
		return fmt.Errorf("renaming %s to %s: %w", tmp.Name(), dstPath, err)
	}
	return syncDir(dir)
}

// syncDir makes a rename in dir durable; file systems that cannot sync a
// directory are not an error.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("opening directory %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return fmt.Errorf("syncing directory %s: %w", dir, err)
	}
	return nil
}
