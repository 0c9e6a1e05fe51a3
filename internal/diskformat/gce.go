package diskformat

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/klauspost/pgzip"
)

// GCE image import wants a gzipped tar holding one file named disk.raw
// whose size is a whole number of GiB.
const (
	gceMemberName = "disk.raw"
	gceAlign      = gib
	gzipBlockSize = 1 << 20
)

// gceSparseMap lists the data runs of the GiB-padded disk, ending with an
// empty run at the real size when the file ends in a hole, as GNU tar does.
func gceSparseMap(exts []Extent, realSize int64) []sparseEntry {
	var out []sparseEntry
	end := int64(0)
	for _, e := range dataOnly(exts) {
		out = append(out, sparseEntry{Offset: e.Offset, Length: e.Length})
		end = e.End()
	}
	if end < realSize || len(out) == 0 {
		out = append(out, sparseEntry{Offset: realSize})
	}
	return out
}

// writeGCE writes disk.raw as an oldgnu sparse member through parallel
// gzip: header blocks, the data runs, padding and the end-of-archive
// blocks.
func writeGCE(ctx context.Context, f *os.File, exts []Extent, dst io.Writer, opts Options) (err error) {
	realSize := max(alignUp(extentsSize(exts), gceAlign), gceAlign)
	h := oldGNUSparseHeader{Name: gceMemberName, Mode: 0o644, RealSize: realSize,
		Entries: gceSparseMap(exts, realSize)}
	if !opts.Time.IsZero() && opts.Time.Unix() > 0 {
		h.MTime = opts.Time.Unix()
	}
	hdr, err := h.marshal()
	if err != nil {
		return err
	}
	level, _ := opts.level()
	gz, err := pgzip.NewWriterLevel(dst, level)
	if err != nil {
		return fmt.Errorf("starting gzip stream: %w", err)
	}
	if err := gz.SetConcurrency(gzipBlockSize, opts.workers()); err != nil {
		return fmt.Errorf("starting gzip stream: %w", err)
	}
	if h.MTime > 0 && h.MTime < 1<<32 {
		gz.ModTime = opts.Time
	}
	defer func() {
		if cerr := gz.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("finishing gzip stream: %w", cerr)
		}
	}()
	s := newSink(gz)
	if _, err := s.Write(hdr); err != nil {
		return err
	}
	buf := make([]byte, copyBufSize)
	for _, e := range dataOnly(exts) {
		if err := copyRange(ctx, f, e.Offset, e.Length, s, buf); err != nil {
			return err
		}
	}
	if err := s.pad(ctx, tarBlock); err != nil {
		return err
	}
	if err := s.zero(ctx, 2*tarBlock); err != nil {
		return err
	}
	return s.pad(ctx, tarRecord)
}
